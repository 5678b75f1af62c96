// Point-to-point on real processes over real ZeroMQ sockets, through `zmpi launch`.
import { describe, expect, it } from "vitest";
import { linesOf, runJob } from "../helpers/run.js";

const CHECKS = ["ordering", "ordering-mixed", "any-source", "payload-types", "send-buffer-reuse", "recv-out", "self-and-requests", "sendrecv-probe", "bad-input", "finalize"];

describe("point-to-point through zmpi launch", () => {
  for (const np of [1, 2, 3, 4, 8]) {
    it(`passes every check on ${np} rank(s)`, async () => {
      const r = await runJob("p2p-suite.ts", np);
      expect(r.stderr, r.stderr).not.toMatch(/Error/);
      expect(r.code).toBe(0);
      for (let rank = 0; rank < np; rank++) {
        const lines = linesOf(r.stdout, rank);
        for (const c of CHECKS) expect(lines, `rank ${rank} missing "ok ${c}"`).toContain(`ok ${c}`);
        if (np > 1) expect(lines).toContain("ok tags");
      }
    });
  }

  it("moves 64 MiB messages both ways between two ranks", async () => {
    const r = await runJob("p2p-suite.ts", 2, { env: { BIG: "1" } });
    expect(r.code, r.stderr).toBe(0);
    expect(linesOf(r.stdout, 0)).toContain("ok 64MiB");
    expect(linesOf(r.stdout, 1)).toContain("ok 64MiB");
  });

  it("works across pretend nodes (tcp between them) and with the Slurm variable names", async () => {
    const a = await runJob("p2p-suite.ts", 4, { nodes: 2 });
    expect(a.code, a.stderr).toBe(0);
    const b = await runJob("p2p-suite.ts", 3, { nodes: 2, slurmEnv: true });
    expect(b.code, b.stderr).toBe(0);
    expect(linesOf(b.stdout, 2)).toContain("ok finalize");
  });
});
