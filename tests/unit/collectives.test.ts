// Every collective, op and dtype against a sequential reference, on the in-memory transport at
// 1–8 and 16, 17, 64, 256 ranks, with every algorithm forced at least once.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CollectiveMismatchError, Op, UsageError, waitAll, type Communicator, type TypedArray } from "../../src/index.js";
import { memoryWorld } from "../../src/groups/memory-world.js";
import { arr, concat, dataFor, DTYPES, refReduce } from "../helpers/coll-ref.js";

const all = <T>(w: Communicator[], f: (c: Communicator) => Promise<T>) => Promise.all(w.map(f));
const OPS_FLOAT = ["SUM", "PROD", "MIN", "MAX"];
const OPS_INT = [...OPS_FLOAT, "BAND", "BOR", "BXOR", "LAND", "LOR"];
const op = (name: string) => (Op as unknown as Record<string, Op>)[name]!;
const SMALL_SIZES = [1, 2, 3, 4, 5, 7, 8];

describe("allreduce and reduce", () => {
  for (const p of SMALL_SIZES) {
    it(`every dtype and op on ${p} ranks, both algorithms, every root`, async () => {
      const w = memoryWorld(p);
      for (const dt of DTYPES) {
        for (const name of dt.int ? OPS_INT : OPS_FLOAT) {
          const n = 11;
          const data = w.map((c) => dataFor(dt.ctor, n, c.rank, name));
          const ref = arr(refReduce(data, name));
          for (const algorithm of ["recursive-doubling", "ring"]) {
            if (algorithm === "ring" && n < p) continue;
            const res = await all(w, (c) => c.allreduce(data[c.rank]!, op(name), { algorithm }));
            for (const r of res) expect(arr(r), `${dt.name} ${name} ${algorithm}`).toEqual(ref);
          }
          const root = (p * 7 + n) % p;
          for (const algorithm of ["binomial", "reduce-scatter-gather"]) {
            const res = await all(w, (c) => c.reduce(data[c.rank]!, op(name), root, { algorithm }));
            expect(arr(res[root] as TypedArray), `reduce ${dt.name} ${name} ${algorithm}`).toEqual(ref);
            res.forEach((r, i) => i !== root && expect(r).toBeUndefined());
          }
        }
      }
    });
  }

  it("plain values: numbers, bigints, booleans, MINLOC/MAXLOC, user ops", async () => {
    const w = memoryWorld(5);
    expect(await all(w, (c) => c.allreduce(c.rank + 1, Op.SUM))).toEqual(new Array(5).fill(15));
    expect(await all(w, (c) => c.allreduce(BigInt(c.rank) * 10n ** 18n, Op.SUM))).toEqual(new Array(5).fill(10n * 10n ** 18n));
    expect(await all(w, (c) => c.allreduce(c.rank !== 3, Op.LAND))).toEqual(new Array(5).fill(false));
    expect(await all(w, (c) => c.allreduce([(c.rank * 3) % 5, c.rank], Op.MINLOC))).toEqual(new Array(5).fill([0, 0]));
    expect(await all(w, (c) => c.allreduce([c.rank % 2, c.rank], Op.MAXLOC))).toEqual(new Array(5).fill([1, 1]));
    // Non-commutative: string concatenation keeps rank order under every algorithm.
    const cat = Op.create((a, b) => `${a as string}${b as string}`, { commutative: false });
    expect(await all(w, (c) => c.allreduce(`r${c.rank}`, cat))).toEqual(new Array(5).fill("r0r1r2r3r4"));
    expect((await all(w, (c) => c.reduce(`r${c.rank}`, cat, 3)))[3]).toBe("r0r1r2r3r4");
    expect(await all(w, (c) => c.scan(`r${c.rank}`, cat))).toEqual(["r0", "r0r1", "r0r1r2", "r0r1r2r3", "r0r1r2r3r4"]);
    expect(await all(w, (c) => c.exscan(`r${c.rank}`, cat))).toEqual([undefined, "r0", "r0r1", "r0r1r2", "r0r1r2r3"]);
    // Typed arrays with a non-commutative element-wise op: "take the right operand" gives the last rank's data.
    const right = Op.create((_a, b) => b, { commutative: false });
    expect((await all(w, (c) => c.allreduce(Int32Array.of(c.rank, -c.rank), right))).map(arr)).toEqual(new Array(5).fill([4, -4]));
    // Typed MINLOC on interleaved pairs.
    const pairs = await all(w, (c) => c.allreduce(Float64Array.of(10 - c.rank, c.rank, c.rank, c.rank), Op.MINLOC));
    expect(arr(pairs[0])).toEqual([6, 4, 0, 0]);
  });

  it("writes into out and in place", async () => {
    const w = memoryWorld(3);
    const outs = w.map(() => new Float64Array(4));
    const res = await all(w, (c) => c.allreduce(Float64Array.of(1, 2, 3, c.rank), Op.SUM, { out: outs[c.rank] }));
    res.forEach((r, i) => expect(r).toBe(outs[i]));
    expect(arr(outs[1])).toEqual([3, 6, 9, 3]);
    const data = w.map((c) => new Float64Array(100_000).fill(c.rank + 1));
    const inPlace = await all(w, (c) => c.allreduce(data[c.rank]!, Op.SUM, { out: data[c.rank] }));
    inPlace.forEach((r, i) => {
      expect(r).toBe(data[i]);
      expect(r[99_999]).toBe(6);
    });
  });
});

describe("bcast, gather, scatter, allgather, alltoall", () => {
  for (const p of SMALL_SIZES) {
    it(`typed arrays and plain values on ${p} ranks, every root and algorithm`, async () => {
      const w = memoryWorld(p);
      for (let root = 0; root < p; root++) {
        const value = { root, list: [1, "x", null], f: Float32Array.of(root) };
        for (const got of await all(w, (c) => c.bcast(c.rank === root ? value : undefined, root))) expect(got).toEqual(value);
        const arrRoot = Float64Array.from({ length: 37 }, (_, i) => i * root);
        for (const algorithm of ["binomial", "scatter-allgather"]) {
          const res = await all(w, (c) => c.bcast(c.rank === root ? arrRoot : new Float64Array(37), root, { algorithm }));
          for (const r of res) expect(arr(r)).toEqual(arr(arrRoot));
        }
        const g = await all(w, (c) => c.gather({ r: c.rank }, root));
        expect(g[root]).toEqual(Array.from({ length: p }, (_, r) => ({ r })));
        const gt = await all(w, (c) => c.gather(Int32Array.of(c.rank, c.rank * 2), root));
        expect(arr(gt[root])).toEqual(Array.from({ length: p }, (_, r) => [r, 2 * r]).flat());
        const gv = await all(w, (c) => c.gatherv(new Uint8Array(c.rank).fill(c.rank), undefined, root));
        expect(arr(gv[root])).toEqual(Array.from({ length: p }, (_, r) => new Array(r).fill(r)).flat());
        const items = Array.from({ length: p }, (_, r) => `item-${r}`);
        expect(await all(w, (c) => c.scatter(c.rank === root ? items : undefined, root))).toEqual(items);
        const sdata = BigInt64Array.from({ length: 3 * p }, (_, i) => BigInt(i) - 5n);
        const st = await all(w, (c) => c.scatter(c.rank === root ? sdata : undefined, root));
        st.forEach((s, r) => expect(arr(s)).toEqual(arr(sdata.subarray(3 * r, 3 * r + 3))));
        const counts = Array.from({ length: p }, (_, r) => (r * 3 + root) % 4);
        const vdata = Float32Array.from({ length: counts.reduce((a, b) => a + b, 0) }, (_, i) => i);
        const sv = await all(w, (c) => c.scatterv(c.rank === root ? vdata : undefined, c.rank === root ? counts : undefined, root));
        let off = 0;
        sv.forEach((s, r) => {
          expect(arr(s)).toEqual(arr(vdata.subarray(off, off + counts[r]!)));
          off += counts[r]!;
        });
      }
      for (const algorithm of ["ring", "bruck", ...(p & (p - 1) ? [] : ["recursive-doubling"])]) {
        const res = await all(w, (c) => c.allgather(Int16Array.of(c.rank, 100 - c.rank, 7), { algorithm }));
        const ref = Array.from({ length: p }, (_, r) => [r, 100 - r, 7]).flat();
        for (const r of res) expect(arr(r), algorithm).toEqual(ref);
      }
      expect((await all(w, (c) => c.allgather(c.rank * 2)))[0]).toEqual(Array.from({ length: p }, (_, r) => 2 * r));
      const agv = await all(w, (c) => c.allgatherv(new Uint32Array(c.rank + 1).fill(c.rank)));
      for (const r of agv) expect(arr(r)).toEqual(Array.from({ length: p }, (_, q) => new Array(q + 1).fill(q)).flat());
      for (const algorithm of ["linear", "pairwise"]) {
        const t = await all(w, (c) =>
          c.alltoall(
            Int32Array.from({ length: 2 * p }, (_, i) => c.rank * 1000 + i),
            { algorithm },
          ),
        );
        t.forEach((x, me) => expect(arr(x)).toEqual(Array.from({ length: p }, (_, src) => [src * 1000 + 2 * me, src * 1000 + 2 * me + 1]).flat()));
        const o = await all(w, (c) =>
          c.alltoall(
            Array.from({ length: p }, (_, d) => `${c.rank}->${d}`),
            { algorithm },
          ),
        );
        o.forEach((x, me) => expect(x).toEqual(Array.from({ length: p }, (_, src) => `${src}->${me}`)));
      }
      const sc = w.map((c) => Array.from({ length: p }, (_, d) => (c.rank + d) % 3));
      const av = await all(w, (c) =>
        c.alltoallv(
          Float64Array.from({ length: sc[c.rank]!.reduce((a, b) => a + b, 0) }, () => c.rank),
          sc[c.rank]!,
        ),
      );
      av.forEach((x, me) => expect(arr(x)).toEqual(Array.from({ length: p }, (_, src) => new Array(sc[src]![me]!).fill(src)).flat()));
    });
  }
});

describe("reduceScatter and scans", () => {
  for (const p of SMALL_SIZES) {
    it(`on ${p} ranks, lengths not divisible by the size, both algorithms`, async () => {
      const w = memoryWorld(p);
      for (const n of [0, 1, p + 3, 5 * p - 1]) {
        const data = w.map((c) => dataFor(Int32Array, n, c.rank, "SUM"));
        const full = arr(refReduce(data, "SUM"));
        for (const algorithm of ["ring", "reduce-scatterv"]) {
          const res = await all(w, (c) => c.reduceScatter(data[c.rank]!, Op.SUM, undefined, { algorithm }));
          expect(
            res.flatMap((r) => arr(r)),
            `n=${n} ${algorithm}`,
          ).toEqual(full);
        }
      }
      const counts = Array.from({ length: p }, (_, r) => r % 3);
      const len = counts.reduce((a, b) => a + b, 0);
      const res = await all(w, (c) => c.reduceScatter(new Float64Array(len).fill(c.rank), Op.MAX, counts));
      res.forEach((r, i) => expect(arr(r)).toEqual(new Array(counts[i]).fill(p - 1)));
      const sc = await all(w, (c) => c.scan(Float32Array.of(c.rank, 1), Op.SUM));
      sc.forEach((r, i) => expect(arr(r)).toEqual([(i * (i + 1)) / 2, i + 1]));
      const ex = await all(w, (c) => c.exscan(BigInt64Array.of(BigInt(c.rank)), Op.SUM));
      ex.forEach((r, i) => (i === 0 ? expect(r).toBeUndefined() : expect(arr(r)).toEqual([BigInt((i * (i - 1)) / 2)])));
    });
  }
});

describe("large rank counts (16, 17, 64, 256) with random lengths and roots", () => {
  for (const p of [16, 17, 64, 256]) {
    it(`${p} ranks`, async () => {
      const w = memoryWorld(p);
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 300 }),
          fc.integer({ min: 0, max: p - 1 }),
          fc.constantFrom(...DTYPES),
          fc.constantFrom("SUM", "MAX", "MIN"),
          async (n, root, dt, name) => {
            const data = w.map((c) => dataFor(dt.ctor, n, c.rank, name, n + root));
            const ref = arr(refReduce(data, name));
            const ar = await all(w, (c) => c.allreduce(data[c.rank]!, op(name)));
            for (const r of ar) expect(arr(r)).toEqual(ref);
            const rd = await all(w, (c) => c.reduce(data[c.rank]!, op(name), root));
            expect(arr(rd[root] as TypedArray)).toEqual(ref);
            const bc = await all(w, (c) => c.bcast(c.rank === root ? data[root] : undefined, root));
            for (const b of bc) expect(arr(b as TypedArray)).toEqual(arr(data[root]));
            const ag = await all(w, (c) => c.allgather(data[c.rank]!));
            expect(arr(ag[p - 1])).toEqual(arr(concat(data)));
            const rs = await all(w, (c) => c.reduceScatter(data[c.rank]!, op(name)));
            expect(rs.flatMap((r) => arr(r))).toEqual(ref);
          },
        ),
        { numRuns: p >= 64 ? 3 : 8 },
      );
      const ring = await all(w, (c) => c.allreduce(new Float64Array(p + 5).fill(1), Op.SUM, { algorithm: "ring" }));
      expect(ring[0]![p + 4]).toBe(p);
      const scans = await all(w, (c) => c.scan(c.rank, Op.SUM));
      expect(scans[p - 1]).toBe((p * (p - 1)) / 2);
      await all(w, (c) => c.barrier());
    }, 180_000); // 256 ranks in one process take ~40-60 s on the loaded 2-core VM
  }
});

describe("several collectives in flight, groups, mismatches", () => {
  it("non-blocking collectives issued in the same order complete correctly", async () => {
    const w = memoryWorld(6);
    const res = await all(w, async (c) => {
      const a = c.iallreduce(Float64Array.of(c.rank), Op.SUM);
      const b = c.ibcast(c.rank === 2 ? "from 2" : undefined, 2);
      const d = c.iallgather(c.rank);
      const e = c.ibarrier();
      const f = c.iscan(1, Op.SUM);
      return [arr((await a.wait()) as TypedArray), await b.wait(), await d.wait(), await e.wait(), await f.wait()];
    });
    res.forEach((r, i) => expect(r).toEqual([[15], "from 2", [0, 1, 2, 3, 4, 5], undefined, i + 1]));
    await all(w, (c) => waitAll([c.iallreduce(1, Op.SUM), c.iallreduce(2, Op.SUM)]).then((x) => expect(x).toEqual([6, 12])));
  });

  it("a collective called differently on different ranks fails on every rank with CollectiveMismatchError", async () => {
    const cases: Array<[string, (c: Communicator) => Promise<unknown>, RegExp]> = [
      [
        "count",
        (c) => c.allreduce(new Float64Array(c.rank === 1 ? 5 : 4), Op.SUM),
        /rank \d called allreduce\(float64\[\d\], SUM, recursive-doubling\), rank \d called allreduce\(float64\[\d\]/,
      ],
      ["kind", (c) => (c.rank === 2 ? c.bcast("x", 0) : c.allreduce(1, Op.SUM)), /called (bcast|allreduce)\(/],
      ["root", (c) => c.reduce(1, Op.SUM, c.rank === 0 ? 1 : 0), /root/],
      ["op", (c) => c.allreduce(Int32Array.of(1), c.rank === 3 ? Op.MAX : Op.SUM), /MAX|SUM/],
      ["dtype", (c) => c.allreduce(c.rank === 1 ? Int32Array.of(1) : Float64Array.of(1), Op.SUM), /int32\[1\]|float64\[1\]/],
    ];
    for (const [name, f, re] of cases) {
      const w = memoryWorld(4, { timeoutMs: 5000 });
      const res = await Promise.allSettled(w.map(f));
      await new Promise((r) => setTimeout(r, 20));
      // A rank whose part finished before the bad message came is failed with the job:
      // its next operation throws the same error (and a real rank exits with it).
      res.forEach((r, rank) => {
        const e = (r.status === "rejected" ? r.reason : w[rank]!.engine.failed) as Error;
        expect(e, `${name}: rank ${rank} not failed`).toBeInstanceOf(CollectiveMismatchError);
        expect(e.message, name).toMatch(re);
      });
      expect(res.some((r) => r.status === "rejected")).toBe(true);
    }
  });

  it("bad arguments are refused on the calling rank before anything is sent", async () => {
    const w = memoryWorld(3);
    const c = w[0]!;
    expect(() => c.bcast(1, 3)).toThrow(UsageError);
    expect(() => c.reduce(1, "SUM" as unknown as Op)).toThrow(/needs an Op/);
    expect(() => c.allreduce(Float64Array.of(1), Op.BAND)).toThrow(/integer arrays only/);
    expect(() => c.scatter([1, 2], 0)).toThrow(/exactly 3 items/);
    expect(() => c.alltoall(new Int32Array(4))).toThrow(/divisible/);
    expect(() => c.reduceScatter(new Int32Array(4), Op.SUM, [1, 1, 1])).toThrow(/counts add up to 3/);
    expect(() => c.allreduce(Int32Array.of(1), Op.SUM, { algorithm: "nope" })).toThrow(/unknown allreduce algorithm "nope"/);
    expect(() => c.allreduce(Int32Array.of(1), Op.SUM, { out: new Float64Array(1) })).toThrow(/out is float64/);
  });

  it("split, subgroup, dup and splitByNode make communicators with their own message space", async () => {
    const w = memoryWorld(7);
    const subs = await all(w, (c) => c.split(c.rank % 3, -c.rank));
    subs.forEach((s, r) => {
      const members = w
        .map((_, q) => q)
        .filter((q) => q % 3 === r % 3)
        .reverse();
      expect(s!.size).toBe(members.length);
      expect(s!.rank).toBe(members.indexOf(r));
      expect([...s!.group]).toEqual(members);
    });
    const sums = await all(w, (c) => subs[c.rank]!.allreduce(c.rank, Op.SUM));
    sums.forEach((s, r) =>
      expect(s).toBe(
        w
          .map((_, q) => q)
          .filter((q) => q % 3 === r % 3)
          .reduce((a, b) => a + b, 0),
      ),
    );
    const none = await all(w, (c) => c.split(c.rank < 2 ? -32766 : 0));
    expect(none[0]).toBeNull();
    expect(none[5]!.size).toBe(5);
    const sg = await all(w, (c) => c.subgroup([6, 1, 4]));
    expect(sg[6]!.rank).toBe(0);
    expect(sg[4]!.rank).toBe(2);
    expect(sg[0]).toBeNull();
    const dups = await all(w, (c) => c.dup());
    // A message on the dup never matches a receive on the original.
    const got = await all(w, async (c) => {
      const d = dups[c.rank]!;
      if (c.rank === 0) {
        await d.send("on dup", 1, { tag: 5 });
        await c.send("on world", 1, { tag: 5 });
        return null;
      }
      if (c.rank === 1) return [await c.recv({ source: 0, tag: 5 }), await d.recv({ source: 0, tag: 5 })];
      return null;
    });
    expect(got[1]).toEqual(["on world", "on dup"]);
    const nodes = await all(w, (c) => c.splitByNode());
    expect(nodes[3]!.size).toBe(7);
  });
});

describe("meshes", () => {
  it("DeviceMesh (2,4) with (dp, tp): tp groups [0-3],[4-7], dp groups [0,4]…[3,7]", async () => {
    const w = memoryWorld(8);
    const meshes = await all(w, (c) => c.mesh({ dp: 2, tp: 4 }));
    const m = meshes[5]!;
    expect(m.coords).toEqual({ dp: 1, tp: 1 });
    expect(m.ranksOf("tp")).toEqual([4, 5, 6, 7]);
    expect(m.ranksOf("dp")).toEqual([1, 5]);
    expect(meshes[0]!.ranksOf("tp")).toEqual([0, 1, 2, 3]);
    for (let t = 0; t < 4; t++) expect(m.ranksOf("dp", { tp: t })).toEqual([t, t + 4]);
    expect([...m.tp.group]).toEqual([4, 5, 6, 7]);
    expect([...m.get("dp").group]).toEqual([1, 5]);
  });

  it("Megatron's 16-rank example (TP=2, PP=4, DP=2) with { pp, dp, tp }", async () => {
    const w = memoryWorld(16);
    const meshes = await all(w, (c) => c.mesh({ pp: 4, dp: 2, tp: 2 }));
    const groups = (dim: string) => [...new Set(meshes.map((m) => JSON.stringify(m.ranksOf(dim))))].map((s) => JSON.parse(s) as number[]);
    expect(groups("tp")).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
      [6, 7],
      [8, 9],
      [10, 11],
      [12, 13],
      [14, 15],
    ]);
    expect(groups("dp")).toEqual([
      [0, 2],
      [1, 3],
      [4, 6],
      [5, 7],
      [8, 10],
      [9, 11],
      [12, 14],
      [13, 15],
    ]);
    expect(groups("pp")).toEqual([
      [0, 4, 8, 12],
      [1, 5, 9, 13],
      [2, 6, 10, 14],
      [3, 7, 11, 15],
    ]);
    // Collectives on two dimensions at once.
    const res = await all(w, async (c) => {
      const m = meshes[c.rank]!;
      const [t, d] = await Promise.all([m.tp.allreduce(c.rank, Op.SUM), m.dp.allreduce(Float64Array.of(c.rank), Op.MAX)]);
      return [t, d[0]];
    });
    res.forEach(([t, d], r) => {
      expect(t).toBe(r % 2 === 0 ? 2 * r + 1 : 2 * r - 1);
      expect(d).toBe(Math.max(...meshes[r]!.ranksOf("dp")));
    });
    const sub = await all(w, (c) => meshes[c.rank]!.sub(["dp", "tp"]));
    expect([...sub[5]!.group]).toEqual([4, 5, 6, 7]);
  });

  it("state/walker meshes, inferred sizes, and clear errors", async () => {
    const w = memoryWorld(8);
    const meshes = await all(w, (c) => c.mesh({ state: -1, walker: 2 }));
    expect(meshes[7]!.shape).toEqual([4, 2]);
    expect(meshes[7]!.walker.rank).toBe(1);
    expect(meshes[7]!.state.size).toBe(4);
    await expect(w[0]!.mesh({ pp: 2, dp: 2, tp: 3 })).rejects.toThrow(/has 12 ranks but world has 8; shapes that fit: .*\{ pp: 2, dp: 2, tp: 2 \}/);
    await expect(w[0]!.mesh({ get: 8 })).rejects.toThrow(/cannot be a mesh dimension name/);
  });

  it("warns once when a group that could fit in a node spans nodes", async () => {
    const w = memoryWorld(4);
    w.forEach((c) => (c.engine.nodeName = c.rank % 2 === 0 ? "n1" : "n2")); // cyclic placement
    const warnings: string[] = [];
    await all(w, (c) => c.mesh({ dp: 2, tp: 2 }, { warn: (m) => warnings.push(m) }));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/tp group\(s\) span nodes/);
    w.forEach((c) => (c.engine.nodeName = c.rank < 2 ? "n1" : "n2")); // block placement
    const ok: string[] = [];
    const m = await all(w, (c) => c.mesh({ dp: 2, tp: 2 }, { warn: (x) => ok.push(x) }));
    expect(ok).toEqual([]);
    expect(m[0]!.nodeLocal("tp")).toBe(true);
    expect(m[0]!.nodeLocal("dp")).toBe(false);
  });
});
