// The collective API's shape: reductions default to Op.SUM (as mpi4py and torch), the positional
// forms still work, every i-form takes `out` in its type, scan/exscan write into `out`.
import { describe, expect, it } from "vitest";
import { Op, UsageError, type Communicator, type Request } from "../../src/index.js";
import { memoryWorld } from "../../src/groups/memory-world.js";
import { arr } from "../helpers/coll-ref.js";

const all = <T>(w: Communicator[], f: (c: Communicator) => Promise<T>) => Promise.all(w.map(f));

describe("default op", () => {
  it("reduce, allreduce, reduceScatter, scan, exscan and their i-forms sum when no op is given", async () => {
    const w = memoryWorld(3);
    expect(await all(w, (c) => c.allreduce(c.rank + 1))).toEqual([6, 6, 6]);
    expect((await all(w, (c) => c.reduce(Float64Array.of(c.rank, 1))))[0]).toEqual(Float64Array.of(3, 3));
    expect((await all(w, (c) => c.reduce(c.rank, undefined, 2)))[2]).toBe(3);
    expect((await all(w, (c) => c.reduceScatter(Int32Array.of(1, 2, 3)))).map(arr)).toEqual([[3], [6], [9]]);
    expect(await all(w, (c) => c.scan(1))).toEqual([1, 2, 3]);
    expect(await all(w, (c) => c.exscan(1))).toEqual([undefined, 1, 2]);
    expect(await all(w, (c) => c.iallreduce(2).wait())).toEqual([6, 6, 6]);
    // Positional forms keep working.
    expect(await all(w, (c) => c.allreduce(c.rank, Op.MAX))).toEqual([2, 2, 2]);
    expect((await all(w, (c) => c.reduce(c.rank, Op.MIN, 1)))[1]).toBe(0);
    expect(() => w[0]!.allreduce(1, "SUM" as unknown as Op)).toThrow(UsageError);
  });
});

describe("out everywhere it makes sense", () => {
  it("the i-forms take out (typed) and give it back", async () => {
    const w = memoryWorld(2);
    const res = await all(w, async (c) => {
      const x = Float64Array.of(c.rank, c.rank);
      const g: Request<Float64Array | undefined> = c.igather(x, 0, { out: new Float64Array(4) });
      const ag: Request<Float64Array> = c.iallgather(x, { out: new Float64Array(4) });
      const sc: Request<Float64Array> = c.iscatter(c.rank === 1 ? Float64Array.of(7, 8) : undefined, 1, { out: new Float64Array(1) });
      const at: Request<Float64Array> = c.ialltoall(x, { out: new Float64Array(2) });
      const sn: Request<Float64Array> = c.iscan(x, Op.SUM, { out: x });
      const gv: Request<Float64Array> = c.iallgatherv(Float64Array.of(c.rank));
      return [await g.wait(), await ag.wait(), await sc.wait(), await at.wait(), await sn.wait(), await gv.wait()].map((v) => (v ? arr(v) : v));
    });
    expect(res[0]).toEqual([[0, 0, 1, 1], [0, 0, 1, 1], [7], [0, 1], [0, 0], [0, 1]]);
    expect(res[1]).toEqual([undefined, [0, 0, 1, 1], [8], [0, 1], [1, 1], [0, 1]]);
  });

  it("scan and exscan in place; exscan leaves rank 0's out alone", async () => {
    const w = memoryWorld(4);
    const xs = w.map((c) => Int32Array.of(c.rank + 1, 10));
    const sc = await all(w, (c) => c.scan(xs[c.rank]!, Op.SUM, { out: xs[c.rank] }));
    sc.forEach((r, i) => expect(r === xs[i] && arr(r)).toEqual([((i + 1) * (i + 2)) / 2, 10 * (i + 1)]));
    const ys = w.map(() => Int32Array.of(-1, -1));
    const ex = await all(w, (c) => c.exscan(Int32Array.of(c.rank + 1), Op.SUM, { out: ys[c.rank] }));
    expect(ex[0]).toBeUndefined();
    expect(arr(ys[0])).toEqual([-1, -1]);
    expect(arr(ex[3])).toEqual([6]);
    expect(() => w[0]!.scan(5, Op.SUM, { out: new Int32Array(1) })).toThrow(/out is for typed arrays/);
    expect(() => w[0]!.scan(Int32Array.of(1, 2), Op.SUM, { out: new Int32Array(1) })).toThrow(/out has 1 elements/);
  });
});
