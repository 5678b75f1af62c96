// examples/ensemble-sampler.ts writes the same summary, byte for byte, at -n 1, at -n 4 with 2
// and 4 state groups, and under srun over two nodes with two CPUs per task (pools of 2).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runJob } from "../helpers/run.js";
import { cleanEnv, slurmSkipReason } from "../helpers/slurm.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const EXAMPLE = join(ROOT, "examples", "ensemble-sampler.ts");
const ARGS = ["--steps", "60", "--walkers", "16"];
const skipSlurm = slurmSkipReason();
if (skipSlurm) console.warn(`skipped: the srun case of the ensemble sampler: ${skipSlurm}`);

function summary(dir: string): { hash: string; rows: Array<Record<string, unknown>> } {
  const text = readFileSync(join(dir, "ensemble.jsonl"), "utf8");
  return {
    hash: createHash("sha256").update(text).digest("hex"),
    rows: text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l)),
  };
}

describe("ensemble sampler: the same summary in every layout", () => {
  const hashes = new Map<string, string>();
  const layouts: Array<[string, number, string[]]> = [
    ["-n 1", 1, []],
    ["-n 4, 2 state groups", 4, ["--groups", "2"]],
    ["-n 4, 4 state groups", 4, ["--groups", "4"]],
  ];
  for (const [name, np, extra] of layouts) {
    it(name, async () => {
      const out = mkdtempSync(join(tmpdir(), "zmpi-ens-"));
      const r = await runJob(EXAMPLE, np, { args: [out, ...ARGS, ...extra], timeoutSec: 240 });
      expect(r.code, r.stderr).toBe(0);
      const s = summary(out);
      expect(s.rows.map((row) => row.state)).toEqual([0, 1, 2, 3]);
      expect(s.rows.map((row) => row.dim)).toEqual([1, 2, 3, 4]);
      const exact = s.rows.map((row) => row.exact_p_degree as number);
      expect(exact.indexOf(Math.max(...exact))).toBe(2); // the data are quadratic
      hashes.set(name, s.hash);
      expect(new Set(hashes.values()).size).toBe(1);
    }, 300_000);
  }

  it.skipIf(skipSlurm !== null)(
    "srun -N2 --ntasks-per-node=2 -c 2",
    () => {
      const out = mkdtempSync(join(tmpdir(), "zmpi-ens-srun-"));
      const r = spawnSync("srun", ["-N2", "--ntasks-per-node=2", "-c", "2", "--time=5", process.execPath, "--import", "tsx", EXAMPLE, out, ...ARGS], {
        cwd: ROOT,
        env: cleanEnv(),
        encoding: "utf8",
        timeout: 280_000,
      });
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/4 states × 16 walkers on 4 rank\(s\) in 4 state group\(s\); pool of 2 per rank/);
      const s = summary(out);
      if (hashes.size > 0) expect([...hashes.values()]).toContain(s.hash);
      else expect(s.rows).toHaveLength(4);
    },
    300_000,
  );
});
