// The MPI point-to-point semantics fixture under real srun on the local cluster: two nodes, tcp
// between them, the stream socket and single copy inside n1 (layout 3,1).
import { describe, expect, it } from "vitest";
import { slurmSkipReason, srunJob as srun } from "../helpers/slurm.js";

const skipReason = slurmSkipReason();
if (skipReason) console.warn(`skipped: ${skipReason}`);

const CHECKS = ["bad-input", "proc-null", "issend-ring", "ssend-ordering", "sendrecv-replace", "requests", "free", "values", "finalize"];

describe.skipIf(skipReason !== null)("point-to-point semantics under srun", () => {
  it("srun -N2 -n4: every check on every task, ssend and send deadlines across nodes", async () => {
    const r = await srun(["--label", "-N2", "-n4", process.execPath, "--import", "tsx", "tests/fixtures/p2p-mpi.ts"], 150_000);
    expect(r.code, r.out).toBe(0);
    for (let t = 0; t < 4; t++) {
      const oks = r.out
        .split("\n")
        .filter((l) => new RegExp(`^\\s*${t}: ok `).test(l))
        .map((l) => l.replace(/^\s*\d+: ok /, ""));
      for (const c of CHECKS) expect(oks, `task ${t}`).toContain(c);
      if (t <= 1) expect(oks, `task ${t}`).toEqual(expect.arrayContaining(["ssend-waits", "send-timeout"]));
    }
  }, 180_000);
});
