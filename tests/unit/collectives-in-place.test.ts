// In-place collectives (`out` is the input itself): nothing may be overwritten before it is sent,
// whatever the block size and algorithm.
import { describe, expect, it } from "vitest";
import { Op, type Communicator } from "../../src/index.js";
import { memoryWorld } from "../../src/groups/memory-world.js";
import { arr } from "../helpers/coll-ref.js";

const all = <T>(w: Communicator[], f: (c: Communicator) => Promise<T>) => Promise.all(w.map(f));

describe("in-place alltoall and alltoallv", () => {
  it("the issue's case: 3 ranks, 8200 float64 per block, pairwise", async () => {
    const w = memoryWorld(3);
    const k = 8200;
    const res = await all(w, (c) => {
      const buf = Float64Array.from({ length: 3 * k }, (_, i) => c.rank * 10 + Math.floor(i / k));
      return c.alltoall(buf, { out: buf });
    });
    res.forEach((r, me) => expect([r[0], r[k], r[2 * k]]).toEqual([0 * 10 + me, 10 + me, 20 + me]));
  });

  for (const p of [2, 3, 4, 5]) {
    it(`every block size and algorithm on ${p} ranks`, async () => {
      const w = memoryWorld(p);
      for (const k of [1, 100, 8192, 8193, 20_000]) {
        for (const algorithm of [undefined, "linear", "pairwise"]) {
          const res = await all(w, (c) => {
            const buf = Float64Array.from({ length: p * k }, (_, i) => c.rank * 1000 + Math.floor(i / k) * 10 + (i % k) / k);
            return c.alltoall(buf, { out: buf, algorithm }).then((r) => ({ r, same: r === buf }));
          });
          res.forEach(({ r, same }, me) => {
            expect(same, "the result is out").toBe(true);
            for (let src = 0; src < p; src++) {
              for (const j of [0, k - 1]) expect(r[src * k + j], `k=${k} ${algorithm} rank ${me} from ${src}`).toBe(src * 1000 + me * 10 + j / k);
            }
          });
        }
        // alltoallv in place: send and receive counts equal per pair (MPI's in-place rule), uneven across pairs.
        const cnt = (a: number, b: number) => k + ((a + b) % 3);
        for (const algorithm of [undefined, "linear", "pairwise"]) {
          const res = await all(w, (c) => {
            const counts = Array.from({ length: p }, (_, d) => cnt(c.rank, d));
            const buf = new Float64Array(counts.reduce((a, b) => a + b, 0));
            let at = 0;
            counts.forEach((n, d) => {
              buf.fill(c.rank * 100 + d, at, at + n);
              at += n;
            });
            return c.alltoallv(buf, counts, counts, { out: buf, algorithm });
          });
          res.forEach((r, me) => {
            const want = Array.from({ length: p }, (_, src) => new Array<number>(cnt(src, me)).fill(src * 100 + me)).flat();
            expect(arr(r), `alltoallv k=${k} ${algorithm} rank ${me}`).toEqual(want);
          });
        }
      }
    });
  }

  it("allreduce in place, and allgather with its own block inside out, stay exact", async () => {
    const w = memoryWorld(4);
    for (const n of [3, 70_000]) {
      const data = w.map((c) => Float64Array.from({ length: n }, (_, i) => c.rank + i));
      for (const algorithm of ["ring", "recursive-doubling"]) {
        const copies = data.map((d) => d.slice());
        const res = await all(w, (c) => c.allreduce(copies[c.rank]!, Op.SUM, { out: copies[c.rank], algorithm }));
        res.forEach((r, i) => {
          expect(r).toBe(copies[i]);
          expect(r[n - 1]).toBe(6 + 4 * (n - 1));
        });
      }
      const k = 5;
      const ag = await all(w, (c) => {
        const out = new Int32Array(4 * k);
        const mine = out.subarray(c.rank * k, (c.rank + 1) * k).fill(c.rank + 1);
        return c.allgather(mine, { out });
      });
      for (const r of ag) expect(arr(r)).toEqual([1, 2, 3, 4].flatMap((v) => new Array(k).fill(v)));
    }
  });
});
