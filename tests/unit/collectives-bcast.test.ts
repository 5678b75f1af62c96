// Bcast with non-roots passing undefined, a buffer, or a mix, at every size on both sides of the
// scatter-allgather threshold: every algorithm choice rests on facts all ranks share.
import { describe, expect, it } from "vitest";
import { BCAST_SCATTER_MIN_BYTES } from "../../src/collectives/select.js";
import { CollectiveMismatchError, type Communicator, type TypedArray } from "../../src/index.js";
import { memoryWorld } from "../../src/groups/memory-world.js";
import { arr } from "../helpers/coll-ref.js";

const all = <T>(w: Communicator[], f: (c: Communicator) => Promise<T>) => Promise.all(w.map(f));
const LIMIT = BCAST_SCATTER_MIN_BYTES / 8;
type Mode = "undefined" | "buffer" | "longer" | "mixed";

function receiveArg(mode: Mode, rank: number, n: number): Float64Array | undefined {
  if (mode === "undefined" || (mode === "mixed" && rank % 2 === 0)) return undefined;
  return new Float64Array(mode === "longer" ? n + 3 : n);
}

describe("bcast of a typed array, whatever the non-roots pass", () => {
  it("the issue's case: 70 000 float64 from rank 0 on 4 ranks, non-roots pass undefined", async () => {
    const w = memoryWorld(4);
    const src = Float64Array.from({ length: 70_000 }, (_, i) => i);
    const res = await all(w, (c) => c.bcast(c.rank === 0 ? src : undefined, 0));
    for (const r of res) expect((r as Float64Array)[69_999]).toBe(69_999);
  });

  for (const p of [1, 2, 3, 4, 5, 6]) {
    it(`${p} ranks: every root, sizes on both sides of the threshold, every way of receiving`, async () => {
      const w = memoryWorld(p);
      for (const n of [0, 37, LIMIT - 1, LIMIT, LIMIT + 5]) {
        for (let root = 0; root < p; root += Math.max(1, p - 2)) {
          const src = Float64Array.from({ length: n }, (_, i) => i * 3 + root);
          for (const mode of ["undefined", "buffer", "longer", "mixed"] as Mode[]) {
            for (const algorithm of [undefined, "binomial", "scatter-allgather"]) {
              const bufs = w.map((c) => (c.rank === root ? src : receiveArg(mode, c.rank, n)));
              const res = await all(w, (c) => c.bcast(bufs[c.rank], root, { algorithm }));
              res.forEach((r, rank) => {
                const what = `n=${n} root ${root} ${mode} ${algorithm} rank ${rank}`;
                expect(r, what).toBeInstanceOf(Float64Array);
                expect((r as Float64Array).length, what).toBe(n);
                if (n > 0) expect([(r as Float64Array)[0], (r as Float64Array)[n - 1]], what).toEqual([src[0], src[n - 1]]);
                // (identity compared as booleans: vitest renders large arrays even for a passing not.toBe)
                if (rank === root) expect(r === src, `${what}: the root gets a copy`).toBe(false);
                else if (bufs[rank]) expect((r as Float64Array).buffer === bufs[rank]!.buffer, `${what}: received into the buffer`).toBe(true);
              });
            }
          }
        }
      }
    }, 60_000);
  }

  it("plain values; the root's result is a copy that later changes to its data do not reach", async () => {
    const w = memoryWorld(3);
    const value = { list: [1, "x", null], nested: { a: 2 } };
    const res = await all(w, (c) => c.bcast(c.rank === 1 ? value : undefined, 1));
    expect(res[1] === value).toBe(false);
    value.nested.a = 99;
    for (const r of res) expect(r).toEqual({ list: [1, "x", null], nested: { a: 2 } });
    const src = Float64Array.of(1, 2, 3);
    const typed = await all(w, (c) => c.bcast(c.rank === 0 ? src : undefined, 0));
    src[0] = 42;
    for (const t of typed) expect(arr(t as TypedArray)).toEqual([1, 2, 3]);
    // The root that passes its array as out keeps it, without a copy, at any size.
    for (const n of [3, LIMIT + 1]) {
      const own = new Float64Array(n).fill(7);
      const kept = await all(w, (c) => c.bcast(c.rank === 0 ? own : undefined, 0, c.rank === 0 ? { out: own } : {}));
      expect(kept[0] === own, `n=${n}: the root's result is its out`).toBe(true);
      expect((kept[2] as Float64Array)[n - 1]).toBe(7);
    }
    const one = memoryWorld(1)[0]!;
    const alone = await one.bcast(src, 0);
    expect(alone === src).toBe(false);
    expect(arr(alone)).toEqual(arr(src));
  });

  it("a receive buffer of the wrong type or size fails every rank with CollectiveMismatchError", async () => {
    const cases: Array<[unknown, unknown, RegExp]> = [
      [new Float64Array(LIMIT + 1), new Int32Array(LIMIT + 1), /int32\[65537\] buffer.*float64\[65537\]/],
      [new Float64Array(10), new Float64Array(9), /float64\[9\] buffer.*float64\[10\]/],
      [{ a: 1 }, new Uint8Array(100), /uint8\[100\] buffer.*a plain value/],
    ];
    for (const [sent, buffer, re] of cases) {
      const w = memoryWorld(4, { timeoutMs: 5000 });
      const res = await Promise.allSettled(w.map((c) => c.bcast(c.rank === 0 ? sent : c.rank === 2 ? buffer : undefined, 0)));
      await new Promise((r) => setTimeout(r, 20));
      res.forEach((r, rank) => {
        const e = r.status === "rejected" ? r.reason : w[rank]!.engine.failed;
        expect(e, `rank ${rank}`).toBeInstanceOf(CollectiveMismatchError);
        expect((e as Error).message).toMatch(re);
      });
    }
    // A Buffer receives a Uint8Array's bytes and the other way round, as recv allows.
    const w = memoryWorld(3);
    const got = await all(w, (c) => c.bcast(c.rank === 0 ? Uint8Array.of(1, 2) : c.rank === 1 ? Buffer.alloc(2) : undefined, 0));
    expect(got.map((g) => [...(g as Uint8Array)])).toEqual([
      [1, 2],
      [1, 2],
      [1, 2],
    ]);
  });
});
