// Sharded particle sets and SVGD on the in-memory transport: uneven shards, gather into a reused
// buffer, the exact distributed median, and SVGD steps bit-identical for 1, 3 and 4 ranks.
import { afterAll, describe, expect, it } from "vitest";
import { createPool } from "../../src/compute/index.js";
import { memoryWorld } from "../../src/groups/memory-world.js";
import { ParticleSet, selectKth, shardCounts, shardOf, Svgd } from "../../src/particles/index.js";
import { createRng } from "../../src/rng/index.js";
import { UsageError } from "../../src/errors.js";

const pool = createPool({ size: 2 });
afterAll(() => pool.close());
const target = new URL("../../examples/svgd-target.mjs", import.meta.url);

describe("shards", () => {
  it("block distribution, the first N mod P one longer", () => {
    expect(shardCounts(128, 6)).toEqual([22, 22, 21, 21, 21, 21]);
    expect(shardCounts(3, 5)).toEqual([1, 1, 1, 0, 0]);
    expect(shardOf(10, 3, 2)).toEqual({ start: 7, count: 3 });
    expect(() => shardCounts(4, 0)).toThrow(UsageError);
  });
});

describe("selectKth (exact, distributed)", () => {
  it("equals sorting the union, for every k, at 1–5 ranks, with duplicates and zeros", async () => {
    const r = createRng("select");
    const all = Float64Array.from({ length: 97 }, (_, i) => (i % 7 === 0 ? 0 : i % 5 === 0 ? 1.5 : r.uniform() * 10 ** r.int(6)));
    const sorted = Float64Array.from(all).sort();
    for (const ranks of [1, 2, 3, 5]) {
      const world = memoryWorld(ranks);
      const counts = shardCounts(all.length, ranks);
      let o = 0;
      const parts = counts.map((c) => {
        const part = all.slice(o, o + c);
        o += c;
        return part;
      });
      for (const k of [1, 2, 14, 15, 48, 49, 96, 97]) {
        const got = await Promise.all(world.map((c) => selectKth(c, parts[c.rank]!, k)));
        expect(got).toEqual(new Array(ranks).fill(sorted[k - 1]));
      }
      await expect(Promise.all(world.map((c) => selectKth(c, parts[c.rank]!, 98)))).rejects.toThrow(/k = 98 is more than the 97 values/);
    }
  });
});

/** Runs `steps` SVGD steps at `ranks` in-memory ranks; returns rank 0's gather of all particles and the step infos. */
async function runSvgd(ranks: number, n: number, steps: number): Promise<{ x: Float64Array; h: number[] }> {
  const world = memoryWorld(ranks);
  const out = await Promise.all(
    world.map(async (comm) => {
      const ps = new ParticleSet(comm, { n, dim: 2, pool });
      ps.init((i, x) => createRng(3, "particle", i).fillNormal(x));
      const svgd = new Svgd(ps, { grad: { module: target, name: "gradLogP" }, stepSize: 0.05 });
      const h: number[] = [];
      for (let t = 0; t < steps; t++) h.push((await svgd.step()).h);
      const x = Float64Array.from(await ps.gather());
      svgd.free();
      ps.free();
      return { x, h };
    }),
  );
  for (const o of out) expect(o.x).toEqual(out[0]!.x); // every rank holds the same set
  return out[0]!;
}

describe("ParticleSet and Svgd", () => {
  it("shards unevenly and gathers every particle in global order into one reused buffer", async () => {
    const world = memoryWorld(4);
    const sets = world.map((comm) => new ParticleSet(comm, { n: 50, dim: 3, pool }).init((i, x) => x.fill(i)));
    expect(sets.map((s) => s.count)).toEqual([13, 13, 12, 12]);
    expect(sets.map((s) => s.range)).toEqual([
      [0, 13],
      [13, 26],
      [26, 38],
      [38, 50],
    ]);
    const a = await Promise.all(sets.map((s) => s.gather()));
    const b = await Promise.all(sets.map((s) => s.gather()));
    expect(a[2]).toBe(b[2]); // the same buffer every time
    expect([...a[3]!]).toEqual(Array.from({ length: 150 }, (_, k) => Math.floor(k / 3)));
    const root = await Promise.all(sets.map((s) => s.gatherTo(0)));
    expect(root[0]).toEqual(a[0]);
    expect(root.slice(1)).toEqual([undefined, undefined, undefined]);
    for (const s of sets) s.free();
    expect(() => new ParticleSet(world[0]!, { n: 0, dim: 2, pool })).toThrow(/n must be a positive integer/);
  });

  it("SVGD steps are bit-identical at 1, 3 and 4 ranks (uneven shards), and move particles towards the target", async () => {
    const n = 50;
    const one = await runSvgd(1, n, 6);
    for (const ranks of [3, 4]) {
      const many = await runSvgd(ranks, n, 6);
      expect(many.h).toEqual(one.h);
      expect(many.x).toEqual(one.x);
    }
    const { logP } = (await import(target.href)) as { logP: (a: number, b: number) => number };
    const start = Float64Array.from({ length: 2 * n }, (_, k) => createRng(3, "particle", Math.floor(k / 2)).fillNormal(new Float64Array(2))[k % 2]!);
    const mean = (x: Float64Array) => Array.from({ length: n }, (_, i) => logP(x[2 * i]!, x[2 * i + 1]!)).reduce((a, b) => a + b, 0) / n;
    expect(mean(one.x)).toBeGreaterThan(mean(start));
  });
});

describe("SVGD kernels: WASM SIMD and JS", () => {
  it("give the same bits (odd and even N, dimensions 1–3), and our exp is within an ulp of Math.exp", async () => {
    const { computeMemory } = await import("../../src/compute/memory.js");
    const { distances, phiRows } = await import("../../src/particles/svgd-kernel.js");
    const { expNeg } = await import("../../src/particles/exp.js");
    const mem = computeMemory();
    for (const [n, dim] of [
      [101, 2],
      [64, 3],
      [7, 1],
      [1, 2],
    ] as const) {
      const X = mem.allocArray(Float64Array, n * dim);
      const G = mem.allocArray(Float64Array, n * dim);
      const D = mem.allocArray(Float64Array, n * n);
      const Phi = mem.allocArray(Float64Array, n * dim);
      const acc = mem.allocArray(Float64Array, 2 * dim);
      createRng(1).fillNormal(X, 0, 3);
      createRng(2).fillNormal(G);
      const D2 = new Float64Array(n * n);
      const Phi2 = new Float64Array(n * dim);
      distances({ X, D, n, dim, row0: 0, rows: n, memory: mem.memory });
      phiRows({ X, G, D, Phi, n, dim, row0: 0, rows: n, h: 1.3, memory: mem.memory, acc });
      distances({ X, D: D2, n, dim, row0: 0, rows: n });
      phiRows({ X, G, D: D2, Phi: Phi2, n, dim, row0: 0, rows: n, h: 1.3 });
      expect(D).toEqual(D2);
      expect(Phi).toEqual(Phi2);
      expect(Phi.some((v) => v !== 0) || n === 1).toBe(true);
      for (const a of [X, G, D, Phi, acc]) mem.freeArray(a);
    }
    let worst = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = -i * 0.00707;
      const e = Math.exp(x);
      if (e > 1e-300) worst = Math.max(worst, Math.abs(expNeg(x) - e) / e / Number.EPSILON);
    }
    expect(worst).toBeLessThan(2);
    expect(expNeg(-0)).toBe(1);
    expect(expNeg(-800)).toBe(0);
  });
});
