// Node-aware collectives under real srun on the local cluster (n1, n2): Slurm's layouts 2,2
// (--ntasks-per-node=2, uniform: the segments shape) and 3,1 (-n4, uneven: the leaders shape),
// tcp between the nodes, the same-machine path inside n1.
import { describe, expect, it } from "vitest";
import { slurmSkipReason, srunCapture as srun } from "../helpers/slurm.js";

const skipReason = slurmSkipReason();
if (skipReason) console.warn(`skipped: ${skipReason}`);

const CHECKS = ["allreduce", "order", "bcast", "barrier"];

describe.skipIf(skipReason !== null)("node-aware collectives under srun", () => {
  for (const [layout, args] of [
    ["2,2", ["-N2", "--ntasks-per-node=2"]],
    ["3,1", ["-N2", "-n4"]],
  ] as const) {
    it(`srun ${args.join(" ")} (layout ${layout}): hierarchical results equal the flat ones on every task; barriers cross once per leader`, async () => {
      const r = await srun(["--label", ...args, process.execPath, "--import", "tsx", "tests/fixtures/coll-hierarchical.ts"], 240_000);
      expect(r.code, r.out).toBe(0);
      let auto = 0;
      for (let t = 0; t < 4; t++) {
        const lines = r.out
          .split("\n")
          .filter((l) => new RegExp(`^\\s*${t}: `).test(l))
          .map((l) => l.replace(/^\s*\d+: /, ""));
        for (const c of CHECKS) expect(lines, `task ${t}\n${r.out}`).toContain(`ok ${c}`);
        expect(lines).toContain(`layout ${layout === "2,2" ? "n1,n1,n2,n2" : "n1,n1,n1,n2"}`);
        auto += Number(lines.join("\n").match(/barrier remote sends auto=(\d+)/)?.[1] ?? Number.NaN);
      }
      expect(auto).toBe(40);
    }, 270_000);
  }
});
