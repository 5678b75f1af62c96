// Issue 9's collective defects and finalize as a collective, on real processes through `zmpi launch`.
import { describe, expect, it } from "vitest";
import { linesOf, runJob } from "../helpers/run.js";

describe("collective semantics on real ranks", () => {
  for (const [np, nodes] of [
    [2, 1],
    [3, 1],
    [4, 2],
    [5, 1],
  ] as const) {
    it(`the four defects of issue 9 stay fixed on ${np} ranks over ${nodes} pretend node(s)`, async () => {
      const r = await runJob("coll-semantics.ts", np, { nodes, timeoutSec: 240, env: { MODE: "defects" } });
      expect(r.code, r.stderr).toBe(0);
      for (let rank = 0; rank < np; rank++) {
        const lines = linesOf(r.stdout, rank);
        for (const c of ["minloc", "alltoall-in-place", "bcast-undefined", "v-form-sequence", "finalize"])
          expect(lines, `rank ${rank} missing "ok ${c}"\n${r.stderr}`).toContain(`ok ${c}`);
      }
    }, 270_000);
  }

  it("finalize on one rank while the others are in an allreduce fails both sides at once, naming both calls", async () => {
    const r = await runJob("coll-semantics.ts", 3, { killOnBadExit: false, env: { MODE: "finalize-mismatch" } });
    expect(r.code).not.toBe(0);
    expect(r.ms, "took until a deadline").toBeLessThan(25_000);
    for (let rank = 0; rank < 3; rank++) {
      const text = linesOf(r.stdout, rank).join("\n");
      expect(text, `rank ${rank}\n${r.stdout}\n${r.stderr}`).toMatch(
        /caught CollectiveMismatchError: .*collective #0 differs.*called (finalize\(\).*allreduce\(|allreduce\(.*finalize\(\))/,
      );
    }
  });

  it('with onFailure "throw", finalize after a failure rejects, closes everything, and the process exits by itself', async () => {
    const r = await runJob("coll-semantics.ts", 3, { killOnBadExit: false, timeoutSec: 60, env: { MODE: "finalize-after-failure" } });
    expect(r.stderr).not.toMatch(/time limit/);
    expect(r.ms, "a rank stayed alive").toBeLessThan(25_000);
    for (let rank = 0; rank < 3; rank++) {
      const lines = linesOf(r.stdout, rank);
      expect(lines.join("\n"), `rank ${rank}\n${r.stdout}\n${r.stderr}`).toMatch(/caught CollectiveMismatchError/);
      expect(lines, `rank ${rank}`).toContain("finalize rejected: CollectiveMismatchError");
      expect(lines.join("\n")).not.toMatch(/ERROR/);
    }
  });
});
