// A collective's place in the communicator's sequence is fixed when it is called: non-blocking
// collectives (and the v-forms that exchange counts first) may be awaited in any order, with local
// awaits between them, as long as every rank calls the same collectives in the same order.
import { describe, expect, it } from "vitest";
import { Op, type Communicator } from "../../src/index.js";
import { memoryWorld } from "../../src/groups/memory-world.js";
import { arr } from "../helpers/coll-ref.js";

const all = <T>(w: Communicator[], f: (c: Communicator) => Promise<T>) => Promise.all(w.map(f));
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("v-forms without counts take their sequence number when called", () => {
  for (const p of [1, 2, 3, 5]) {
    it(`p = allgatherv(x); a local await on one rank; barrier() — on ${p} ranks`, async () => {
      const w = memoryWorld(p, { timeoutMs: 10_000 });
      const ref = Array.from({ length: p }, (_, r) => new Array<number>(r + 1).fill(r)).flat();
      const res = await all(w, async (c) => {
        const x = new Float64Array(c.rank + 1).fill(c.rank);
        const sc = Array.from({ length: p }, (_, d) => (c.rank + d) % 3);
        const pg = c.allgatherv(x);
        const pv = c.gatherv(x, undefined, p - 1);
        const pa = c.alltoallv(new Int32Array(sc.reduce((a, b) => a + b, 0)).fill(c.rank), sc);
        if (c.rank === 0) {
          // Rank 0 waits for the results before its barrier; the others call barrier at once.
          const got = [await pg, await pv, await pa];
          await c.barrier();
          return got;
        }
        const b = c.barrier();
        await tick(5);
        const got = [await pg, await pv, await pa];
        await b;
        return got;
      });
      res.forEach(([g, v, a], me) => {
        expect(arr(g), `allgatherv rank ${me}`).toEqual(ref);
        if (me === p - 1) expect(arr(v), "gatherv").toEqual(ref);
        else expect(v).toBeUndefined();
        expect(arr(a), `alltoallv rank ${me}`).toEqual(Array.from({ length: p }, (_, src) => new Array<number>((src + me) % 3).fill(src)).flat());
      });
    });
  }

  it("out too small for the exchanged counts fails every rank with the UsageError", async () => {
    const w = memoryWorld(3, { timeoutMs: 5000 });
    const res = await Promise.allSettled(w.map((c) => c.allgatherv(new Float64Array(c.rank + 1), undefined, { out: new Float64Array(c.rank === 1 ? 2 : 6) })));
    await tick(20);
    res.forEach((r, rank) => {
      const e = (r.status === "rejected" ? r.reason : w[rank]!.engine.failed) as Error;
      expect(e?.message, `rank ${rank}`).toMatch(/out has 2 elements, the result needs 6/);
    });
  });

  it("non-blocking collectives interleaved with blocking ones and local awaits", async () => {
    const w = memoryWorld(4);
    const res = await all(w, async (c) => {
      const a = c.iallreduce(Float64Array.of(c.rank), Op.SUM);
      if (c.rank % 2) await tick(3);
      const g = c.iallgather(c.rank);
      const s = await c.scan(1, Op.SUM);
      const b = c.ibcast(c.rank === 3 ? "three" : undefined, 3);
      if (c.rank === 2) await b.wait();
      await c.barrier();
      return [arr((await a.wait()) as Float64Array), await g.wait(), s, await b.wait()];
    });
    res.forEach((r, i) => expect(r).toEqual([[6], [0, 1, 2, 3], i + 1, "three"]));
  });
});
