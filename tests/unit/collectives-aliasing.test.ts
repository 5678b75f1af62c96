// CONTRACTS C1: a result never shares memory with the input unless the caller passed `out` (then
// the result is `out`, or `out.subarray(0, n)` when `out` is longer); the root of bcast and
// scatter gets a copy; a 1-rank communicator returns copies.
import { describe, expect, it } from "vitest";
import { Op, type Communicator, type TypedArray } from "../../src/index.js";
import { memoryWorld } from "../../src/groups/memory-world.js";
import { arr } from "../helpers/coll-ref.js";

const all = <T>(w: Communicator[], f: (c: Communicator) => Promise<T>) => Promise.all(w.map(f));
/** True when two values share memory: the same object, or typed arrays over the same buffer. */
function shares(result: unknown, input: unknown): boolean {
  if (result === input) return true;
  if (ArrayBuffer.isView(result) && ArrayBuffer.isView(input)) return result.buffer === input.buffer;
  return false;
}

describe("results never alias inputs", () => {
  for (const p of [1, 2, 3, 4]) {
    it(`typed arrays on ${p} rank(s), every collective, short and long`, async () => {
      const w = memoryWorld(p);
      for (const n of [4 * p, 70_000 * p]) {
        const data = w.map((c) => Float64Array.from({ length: n }, (_, i) => c.rank + i));
        const check = async (name: string, f: (c: Communicator, d: Float64Array) => Promise<unknown>, who: (rank: number) => boolean = () => true) => {
          const res = await all(w, (c) => f(c, data[c.rank]!));
          res.forEach((r, rank) => {
            if (!who(rank) || r === undefined) return;
            for (const d of data) expect(shares(r, d), `${name} n=${n}: rank ${rank}'s result shares memory with an input`).toBe(false);
          });
        };
        await check("bcast", (c, d) => c.bcast(c.rank === 0 ? d : undefined, 0));
        await check("reduce", (c, d) => c.reduce(d, Op.SUM, p - 1));
        for (const algorithm of ["ring", "recursive-doubling"]) await check(`allreduce ${algorithm}`, (c, d) => c.allreduce(d, Op.MAX, { algorithm }));
        await check("gather", (c, d) => c.gather(d, 0));
        await check("allgather", (c, d) => c.allgather(d));
        await check("scatter", (c, d) => c.scatter(c.rank === p - 1 ? d : undefined, p - 1));
        await check("scatterv", (c, d) => c.scatterv(c.rank === 0 ? d : undefined, c.rank === 0 ? new Array<number>(p).fill(n / p) : undefined, 0));
        await check("alltoall", (c, d) => c.alltoall(d));
        await check("reduceScatter", (c, d) => c.reduceScatter(d, Op.SUM));
        await check("scan", (c, d) => c.scan(d, Op.SUM));
        await check("exscan", (c, d) => c.exscan(d, Op.SUM));
        await check("allgatherv", (c, d) => c.allgatherv(d));
        await check("gatherv", (c, d) => c.gatherv(d, undefined, 0));
        await check("alltoallv", (c, d) => c.alltoallv(d, new Array<number>(p).fill(n / p)));
      }
    });

    it(`plain values on ${p} rank(s): own contributions come back as copies`, async () => {
      const w = memoryWorld(p);
      const mine = w.map((c) => ({ rank: c.rank, tags: ["a", c.rank] }));
      const pairs = w.map(() => [1, 0]); // every rank's MINLOC pair ties: the lowest index (its own on rank 0) wins
      const expectCopy = (r: unknown, d: unknown, what: string) => {
        expect(r === d, `${what}: same object`).toBe(false);
        expect(r, what).toEqual(d);
      };
      const b = await all(w, (c) => c.bcast(c.rank === 0 ? mine[0] : undefined, 0));
      expectCopy(b[0], mine[0], "bcast root");
      const g = await all(w, (c) => c.gather(mine[c.rank], 0));
      expectCopy((g[0] as unknown[])[0], mine[0], "gather root's own item");
      const ag = await all(w, (c) => c.allgather(mine[c.rank]));
      ag.forEach((a, r) => expectCopy(a[r], mine[r], `allgather rank ${r}'s own item`));
      const sc = await all(w, (c) => c.scatter(c.rank === 0 ? mine : undefined, 0));
      expectCopy(sc[0], mine[0], "scatter root");
      const at = await all(w, (c) => c.alltoall(mine));
      at.forEach((a, r) => expectCopy(a[r], mine[r], `alltoall rank ${r}'s own item`));
      const ar = await all(w, (c) => c.allreduce(pairs[c.rank], Op.MINLOC));
      expectCopy(ar[0], pairs[0], "allreduce MINLOC");
      const rd = await all(w, (c) => c.reduce(pairs[c.rank], Op.MINLOC, 0));
      expectCopy(rd[0], pairs[0], "reduce MINLOC");
      const sn = await all(w, (c) => c.scan(pairs[c.rank], Op.MINLOC));
      expectCopy(sn[0], pairs[0], "scan rank 0");
    });
  }

  it("with out the result is out, or out.subarray(0, n) when out is longer", async () => {
    const w = memoryWorld(3);
    const n = 6;
    const outs = () => w.map(() => new Float64Array(40));
    const data = w.map((c) => Float64Array.from({ length: n }, (_, i) => c.rank * 10 + i));
    const check = async (name: string, len: number, f: (c: Communicator, d: Float64Array, out: Float64Array) => Promise<unknown>, who: (rank: number) => boolean = () => true) => {
      const o = outs();
      const res = await all(w, (c) => f(c, data[c.rank]!, o[c.rank]!));
      res.forEach((r, rank) => {
        if (!who(rank)) return;
        const t = r as TypedArray;
        expect(t.buffer === o[rank]!.buffer && t.byteOffset === 0 && t.length === len, `${name} rank ${rank}: out.subarray(0, ${len})`).toBe(true);
      });
    };
    await check("bcast", n, (c, d, out) => c.bcast(c.rank === 1 ? d : undefined, 1, { out }));
    await check(
      "reduce",
      n,
      (c, d, out) => c.reduce(d, Op.SUM, 2, { out }),
      (r) => r === 2,
    );
    await check("allreduce", n, (c, d, out) => c.allreduce(d, Op.SUM, { out }));
    await check(
      "gather",
      3 * n,
      (c, d, out) => c.gather(d, 0, { out }),
      (r) => r === 0,
    );
    await check("allgather", 3 * n, (c, d, out) => c.allgather(d, { out }));
    await check("scatter", n / 3, (c, d, out) => c.scatter(c.rank === 0 ? d : undefined, 0, { out }));
    await check("alltoall", n, (c, d, out) => c.alltoall(d, { out }));
    await check("reduceScatter", n / 3, (c, d, out) => c.reduceScatter(d, Op.SUM, undefined, { out }));
    await check("scan", n, (c, d, out) => c.scan(d, Op.SUM, { out }));
    await check(
      "exscan",
      n,
      (c, d, out) => c.exscan(d, Op.SUM, { out }),
      (r) => r > 0,
    );
    const sums = await all(w, (c) => c.scan(data[c.rank]!, Op.SUM, { out: data[c.rank] }));
    expect(arr(sums[2])).toEqual([30, 33, 36, 39, 42, 45]);
  });
});
