// Rooted collectives carry their root in the signature, and neighbours compare signatures inside
// the call: ranks that disagree on the root all fail at that call with CollectiveMismatchError
// naming both roots — never a silent wrong value, never a hang until the deadline.
import { describe, expect, it } from "vitest";
import { CollectiveMismatchError, Op, type Communicator } from "../../src/index.js";
import { memoryWorld } from "../../src/groups/memory-world.js";

type Call = (c: Communicator, root: number) => Promise<unknown>;
const CALLS: Array<[string, Call]> = [
  ["bcast", (c, root) => c.bcast(c.rank === root ? "v" : undefined, root)],
  ["bcast", (c, root) => c.bcast(c.rank === root ? new Float64Array(70_000) : undefined, root)],
  ["reduce", (c, root) => c.reduce(c.rank, Op.SUM, root)],
  ["gather", (c, root) => c.gather(c.rank, root)],
  ["gather", (c, root) => c.gather(Int32Array.of(c.rank), root)],
  ["gatherv", (c, root) => c.gatherv(Int32Array.of(c.rank), undefined, root)],
  ["scatter", (c, root) => c.scatter(c.rank === root ? Array.from({ length: c.size }, (_, i) => i) : undefined, root)],
  ["scatterv", (c, root) => c.scatterv(c.rank === root ? new Int32Array(c.size) : undefined, c.rank === root ? new Array<number>(c.size).fill(1) : undefined, root)],
];

describe("a root that differs between ranks", () => {
  for (const [p, rootOf] of [
    [2, (r: number) => r],
    [3, (r: number) => (r === 2 ? 2 : 0)],
    [4, (r: number) => (r < 2 ? 0 : 2)],
    [5, (r: number) => (r === 3 ? 1 : 4)],
  ] as const) {
    it(`fails every rank at that call on ${p} ranks (roots ${Array.from({ length: p }, (_, r) => rootOf(r)).join(",")})`, async () => {
      for (const [name, call] of CALLS) {
        const w = memoryWorld(p, { timeoutMs: 5000 });
        const t0 = Date.now();
        const res = await Promise.allSettled(w.map((c) => call(c, rootOf(c.rank))));
        expect(Date.now() - t0, `${name}: took until the deadline`).toBeLessThan(4000);
        await new Promise((r) => setTimeout(r, 20));
        expect(
          res.some((r) => r.status === "rejected"),
          `${name}: no rank's call failed`,
        ).toBe(true);
        res.forEach((r, rank) => {
          const e = (r.status === "rejected" ? r.reason : w[rank]!.engine.failed) as Error;
          expect(e, `${name}: rank ${rank} not failed`).toBeInstanceOf(CollectiveMismatchError);
          expect(e.message, name).toMatch(new RegExp(`collective #0 differs.*called ${name}\\(.*root (\\d).*called ${name}\\(.*root (?!\\1)\\d`));
        });
      }
    });
  }

  it("agreeing ranks pay one token per rooted call and nothing is left queued", async () => {
    const w = memoryWorld(4);
    for (let root = 0; root < 4; root++) {
      for (const [, call] of CALLS) await Promise.all(w.map((c) => call(c, root)));
    }
    await Promise.all(w.map((c) => c.barrier()));
    for (const c of w) {
      expect(c.engine.failed).toBeNull();
      const queued = (c as unknown as { ctx: { coll: { pending(): readonly unknown[] } } }).ctx.coll.pending();
      expect(queued, `rank ${c.rank}: messages left over`).toHaveLength(0);
    }
  });
});
