// Every command the README shows runs, exactly as written. `npm ci` and `npm test` are what CI
// itself runs (.ci/run), so here they are checked against .ci/run instead of being re-entered.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const readme = readFileSync(`${root}/README.md`, "utf8");
const commands = [...readme.matchAll(/```bash\n([\s\S]*?)```/g)].flatMap((m) =>
  m[1]!
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#")),
);
const hasSrun = spawnSync("sh", ["-c", "command -v srun"]).status === 0;
if (!hasSrun) console.warn("skipped: the README's srun commands: srun not found (set up the local cluster: bash ../shared/slurm-local/setup.sh)");

describe("README commands", () => {
  it("lists the install and test commands first, and .ci/run runs exactly those", () => {
    expect(commands.slice(0, 2)).toEqual(["npm ci", "npm test"]);
    const ci = readFileSync(`${root}/.ci/run`, "utf8");
    expect(ci).toMatch(/^npm ci\b/m);
    expect(ci).toMatch(/^npm test$/m);
    expect(commands).toContain("npx zmpi launch -n 4 examples/hello.ts");
    expect(commands.some((c) => c.startsWith("srun -N2 -n4 "))).toBe(true);
  });

  for (const cmd of commands.filter((c) => c !== "npm ci" && c !== "npm test")) {
    const needsSlurm = cmd.startsWith("srun") || cmd.startsWith("sbatch");
    it.skipIf(needsSlurm && !hasSrun)(
      `runs: ${cmd}`,
      () => {
        const r = spawnSync("bash", ["-c", cmd], { cwd: root, encoding: "utf8", timeout: 240_000, env: { ...process.env, BENCH_QUICK: "1" } });
        expect(r.status, `${cmd}\n${r.stdout}\n${r.stderr}`).toBe(0);
        if (cmd.includes("examples/hello.ts")) expect(r.stdout).toMatch(/token went around the ring: 0 -> 1 -> 2/);
        if (cmd.includes("examples/mesh.ts")) expect(r.stdout).toMatch(/tp: allreduce of ranks/);
        if (cmd === "npx zmpi info") expect(r.stdout).toMatch(/coordinator/);
        if (cmd.includes("examples/sweep.ts")) expect(r.stdout).toMatch(/sweep: 6 tasks done, 0 failed; 4 rows in \/tmp\/zmpi-sweep\/sweep\.csv/);
      },
      300_000,
    );
  }
});
