// A { dp: 2, tp: 2 } mesh under real srun with 2 ranks per node: every TP group stays inside a node.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { cleanEnv } from "../helpers/slurm.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const hasSrun = spawnSync("bash", ["-c", "command -v srun"]).status === 0;
if (!hasSrun) console.warn("skipped: srun not found (install the local cluster: bash ../shared/slurm-local/setup.sh)");

describe.skipIf(!hasSrun)("mesh under srun", () => {
  it("srun -N2 --ntasks-per-node=2 with { dp: 2, tp: 2 }: TP groups node-local, allreduce per dimension", () => {
    const r = spawnSync("srun", ["-N2", "--ntasks-per-node=2", "--label", "--kill-on-bad-exit=1", process.execPath, "--import", "tsx", "examples/mesh.ts"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 90_000,
      env: cleanEnv({ MESH: "dp:2,tp:2", ZMPI_SECRET: `mesh-test-${Date.now()}-secret`, ZMPI_TIMEOUT: "60" }),
    });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split("\n");
    for (let rank = 0; rank < 4; rank++) {
      const node = rank < 2 ? "n1" : "n2";
      const own = lines.filter((l) => l.startsWith(`${rank}: `)).join("\n");
      expect(own).toMatch(new RegExp(`rank ${rank} on ${node}: dp=${rank >> 1} tp=${rank & 1}`));
      const tpPair = rank < 2 ? "0\\+1 = 1" : "2\\+3 = 5";
      expect(own).toMatch(new RegExp(`tp: allreduce of ranks ${tpPair} \\(node-local\\)`));
      expect(own).toMatch(/dp: allreduce of ranks \d\+\d = \d$/m);
      expect(own).not.toMatch(/dp: .*node-local/);
    }
    expect(r.stderr).not.toMatch(/span nodes/);
  }, 120_000);
});
