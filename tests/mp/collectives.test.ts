// Collectives on real processes over ZeroMQ, through `zmpi launch`, for 1–8 ranks (odd included).
import { describe, expect, it } from "vitest";
import { linesOf, runJob } from "../helpers/run.js";

const CHECKS = ["typed-reductions", "integer-ops", "data-movement", "scans-and-user-ops", "groups", "finalize"];

describe("collectives through zmpi launch", () => {
  for (const [np, nodes] of [
    [1, 1],
    [2, 1],
    [3, 1],
    [4, 2],
    [5, 1],
    [8, 2],
  ] as const) {
    it(`agree with the sequential reference on ${np} rank(s) over ${nodes} pretend node(s)`, async () => {
      // 8 ranks on the shared 2-core VM take 60-100 s under load: headroom, not a looser check.
      const r = await runJob("coll-suite.ts", np, { nodes, timeoutSec: 300 });
      expect(r.code, r.stderr).toBe(0);
      for (let rank = 0; rank < np; rank++) {
        const lines = linesOf(r.stdout, rank);
        for (const c of CHECKS) expect(lines, `rank ${rank} missing "ok ${c}"\n${r.stderr}`).toContain(`ok ${c}`);
      }
    }, 330_000);
  }

  it("a mismatched collective fails every rank with CollectiveMismatchError naming both calls", async () => {
    const r = await runJob("coll-mismatch.ts", 3, { killOnBadExit: false });
    expect(r.code).not.toBe(0);
    // Start-up of three ranks takes up to ~10 s under CI load; the mismatch itself fails at once.
    // Without the check every rank would wait for the 30-minute deadline.
    expect(r.ms).toBeLessThan(30_000);
    for (let rank = 0; rank < 3; rank++) {
      expect(linesOf(r.stdout, rank).join("\n"), `rank ${rank}\n${r.stdout}\n${r.stderr}`).toMatch(
        /caught CollectiveMismatchError: .*called allreduce\(float64\[\d+\], SUM, recursive-doubling\).*called allreduce\(float64\[\d+\]/,
      );
    }
  });

  it("two ranks each run a compute pool at once", async () => {
    const r = await runJob("pool-ranks.ts", 2);
    expect(r.code, r.stderr).toBe(0);
    for (const rank of [0, 1]) expect(linesOf(r.stdout, rank).join("\n")).toMatch(/pool ok: size \d+, gemm max error 0, map \[1,4,9\]/);
  });
});

describe("first contact after rendezvous", () => {
  it("never loses a message (8 fresh 3-rank jobs)", async () => {
    for (let i = 0; i < 8; i++) {
      const r = await runJob("first-contact.ts", 3);
      expect(r.code, `run ${i}\n${r.stderr}`).toBe(0);
      for (const rank of [0, 1, 2]) expect(linesOf(r.stdout, rank)).toContain("ok first-contact");
    }
  });
});
