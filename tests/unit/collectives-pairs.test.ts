// MINLOC/MAXLOC on typed arrays: interleaved [value, index] pairs, never cut by a bandwidth
// algorithm's blocks (ring allreduce, reduce-scatter-gather reduce, reduceScatter), counts in pairs.
import { describe, expect, it } from "vitest";
import { Op, UsageError, type Communicator, type TypedArray } from "../../src/index.js";
import { memoryWorld } from "../../src/groups/memory-world.js";
import { arr } from "../helpers/coll-ref.js";

const all = <T>(w: Communicator[], f: (c: Communicator) => Promise<T>) => Promise.all(w.map(f));

/** Rank r's pairs: value v(r, i), index r, as MPI's MINLOC users write them. */
function pairsOf(ctor: Float64ArrayConstructor | Int32ArrayConstructor | Float32ArrayConstructor, pairs: number, r: number): TypedArray {
  const a = new ctor(2 * pairs);
  for (let i = 0; i < pairs; i++) {
    a[2 * i] = ((r * 7 + i * 3) % 5) - 2;
    a[2 * i + 1] = r;
  }
  return a;
}

/** The sequential MINLOC/MAXLOC over ranks (ties to the lower index, as MPI). */
function refLoc(data: TypedArray[], min: boolean): number[] {
  const out = arr(data[0]!).map(Number);
  for (let r = 1; r < data.length; r++) {
    const d = arr(data[r]!).map(Number);
    for (let i = 0; i < out.length; i += 2) {
      const better = min ? d[i]! < out[i]! : d[i]! > out[i]!;
      if (better || (d[i] === out[i] && d[i + 1]! < out[i + 1]!)) {
        out[i] = d[i]!;
        out[i + 1] = d[i + 1]!;
      }
    }
  }
  return out;
}

describe("MINLOC/MAXLOC on typed arrays", () => {
  it("the issue's case: ring allreduce of 3 pairs on 2 ranks", async () => {
    const w = memoryWorld(2);
    const res = await all(w, (c) => c.allreduce(Float64Array.of(...[0, 1, 2].flatMap(() => [c.rank === 0 ? 5 : 1, c.rank])), Op.MINLOC, { algorithm: "ring" }));
    for (const r of res) expect(arr(r)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  for (const p of [2, 3, 4, 5, 7]) {
    it(`every bandwidth algorithm cuts on pair boundaries on ${p} ranks`, async () => {
      const w = memoryWorld(p);
      for (const ctor of [Float64Array, Float32Array, Int32Array]) {
        for (const pairs of [p, p + 1, 2 * p + 3, 2049]) {
          const data = w.map((c) => pairsOf(ctor, pairs, c.rank));
          for (const [op, min] of [
            [Op.MINLOC, true],
            [Op.MAXLOC, false],
          ] as const) {
            const ref = refLoc(data, min);
            const what = `${ctor.name} ${pairs} pairs ${op.name}`;
            for (const algorithm of [undefined, "ring", "recursive-doubling"]) {
              const ar = await all(w, (c) => c.allreduce(data[c.rank]!, op, { algorithm }));
              for (const r of ar) expect(arr(r).map(Number), `allreduce ${algorithm} ${what}`).toEqual(ref);
            }
            for (const algorithm of ["reduce-scatter-gather", "binomial"]) {
              const rd = await all(w, (c) => c.reduce(data[c.rank]!, op, p - 1, { algorithm }));
              expect(arr(rd[p - 1] as TypedArray).map(Number), `reduce ${algorithm} ${what}`).toEqual(ref);
            }
            for (const algorithm of ["ring", "reduce-scatterv"]) {
              const rs = await all(w, (c) => c.reduceScatter(data[c.rank]!, op, undefined, { algorithm }));
              for (const r of rs) expect(r.length % 2, `reduceScatter ${algorithm} ${what}: odd block`).toBe(0);
              expect(
                rs.flatMap((r) => arr(r).map(Number)),
                `reduceScatter ${algorithm} ${what}`,
              ).toEqual(ref);
            }
          }
        }
      }
    });
  }

  it("reduceScatter counts are in pairs", async () => {
    const w = memoryWorld(3);
    const counts = [1, 0, 2];
    const data = w.map((c) => pairsOf(Float64Array, 3, c.rank));
    const ref = refLoc(data, true);
    const rs = await all(w, (c) => c.reduceScatter(data[c.rank]!, Op.MINLOC, counts));
    expect(rs.map((r) => r.length)).toEqual([2, 0, 4]);
    expect(rs.flatMap((r) => arr(r).map(Number))).toEqual(ref);
  });

  it("an odd length, or counts that do not add up to the pairs, is a UsageError before anything is sent", () => {
    const c = memoryWorld(2)[0]!;
    expect(() => c.allreduce(new Float64Array(5), Op.MINLOC)).toThrow(UsageError);
    expect(() => c.reduce(new Int32Array(3), Op.MAXLOC)).toThrow(UsageError);
    expect(() => c.reduceScatter(new Float64Array(7), Op.MINLOC)).toThrow(UsageError);
    expect(() => c.reduceScatter(new Float64Array(6), Op.MINLOC, [3, 3])).toThrow(/pairs/);
  });
});
