// The random streams: Random123's known answers, WASM SIMD = JS bit for bit (any start, any
// length, across a counter wrap), bulk = single draws, keys and forks, and statistical sanity
// (moments, chi-square on bins, a KS test of the normals, independence of sibling streams).
import { afterEach, describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { computeMemory } from "../../src/compute/memory.js";
import { createRng, parseSeed, philox4x32, resolveSeed, Rng } from "../../src/rng/index.js";
import { kCos, kSin, lnUniform } from "../../src/rng/normal.js";
import { resetRngKernels, rngKernels } from "../../src/rng/wasm.js";

const N = 1 << 20;

/** Runs `fn` with the JS path forced (ZMPI_KERNELS=js), then restores the WASM path. */
function withJs<T>(fn: () => T): T {
  const before = process.env.ZMPI_KERNELS;
  process.env.ZMPI_KERNELS = "js";
  resetRngKernels();
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.ZMPI_KERNELS;
    else process.env.ZMPI_KERNELS = before;
    resetRngKernels();
  }
}

function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

afterEach(() => resetRngKernels());

describe("Philox4x32-10", () => {
  it("gives Random123's known answers (kat_vectors)", () => {
    const hex = (a: number[]) => a.map((x) => x.toString(16).padStart(8, "0")).join(" ");
    expect(hex(philox4x32([0, 0, 0, 0], [0, 0]))).toBe("6627e8d5 e169c58d bc57ac4c 9b00dbd8");
    expect(hex(philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]))).toBe("408f276d 41c83b0e a20bc7c6 6d5451fd");
    expect(hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]))).toBe("d16cfe09 94fdcceb 5001e420 24126ea1");
  });

  it("the WASM SIMD kernel is available here (else the bit-identity tests below compare JS with itself)", () => {
    expect(rngKernels()).not.toBeNull();
  });
});

describe("WASM SIMD and JS give the same bits", () => {
  const cases: Array<[string, number, number]> = [
    ["aligned, large", 0, 100_003],
    ["odd start", 1, 77_777],
    ["tiny", 3, 5],
    ["start 9, exactly 64 blocks", 9, 128],
  ];
  for (const [name, skip, n] of cases) {
    it(`uniform f64/f32, normals, ints, bits: ${name}`, () => {
      const draw = () => {
        const r = createRng(2024, "case", name).skip(skip);
        return {
          f64: r.fillUniform(new Float64Array(n)),
          f32: r.fillUniform(new Float32Array(n)),
          nor: r.fillNormal(new Float64Array(n)),
          int: r.fillInt(new Int32Array(n), 1000),
          bits: r.fillBits(new Uint32Array(n)),
          pos: r.position,
        };
      };
      const w = draw();
      const j = withJs(draw);
      expect(firstDiff(w.f64, j.f64)).toBe(-1);
      expect(firstDiff(w.f32, j.f32)).toBe(-1);
      expect(firstDiff(w.nor, j.nor)).toBe(-1);
      expect(firstDiff(w.int, j.int)).toBe(-1);
      expect(firstDiff(w.bits, j.bits)).toBe(-1);
      expect(w.pos).toBe(j.pos);
    });
  }

  it("arrays in the compute memory are filled in place with the same values", () => {
    const mem = computeMemory();
    const a = mem.allocArray(Float64Array, 50_001);
    const z = mem.allocArray(Float64Array, 50_001);
    try {
      createRng(5).fillUniform(a);
      createRng(5, "n").fillNormal(z);
      expect(firstDiff(a, createRng(5).fillUniform(new Float64Array(50_001)))).toBe(-1);
      expect(
        firstDiff(
          z,
          withJs(() => createRng(5, "n").fillNormal(new Float64Array(50_001))),
        ),
      ).toBe(-1);
    } finally {
      mem.freeArray(a);
      mem.freeArray(z);
    }
  });

  it("across the 2^32-block counter wrap (the high counter word carries)", () => {
    const start = 2 * 2 ** 32 - 37; // 64-bit words: block 2^32 starts at word 2^33
    const bulk = createRng(9).skip(start).fillUniform(new Float64Array(300));
    const js = withJs(() => createRng(9).skip(start).fillUniform(new Float64Array(300)));
    const single = createRng(9).skip(start);
    expect(firstDiff(bulk, js)).toBe(-1);
    expect(
      firstDiff(
        bulk,
        Float64Array.from({ length: 300 }, () => single.uniform()),
      ),
    ).toBe(-1);
    // The blocks after the wrap are not the blocks at the stream's start.
    expect(bulk[100]).not.toBe(
      createRng(9)
        .skip(100 - 37)
        .uniform(),
    );
  });
});

describe("bulk draws equal single draws, in any chunking", () => {
  it("uniforms, normals (with the spare), ints", () => {
    const sizes = [1, 7, 64, 1000, 3, 4097, 2, 129];
    const total = sizes.reduce((a, b) => a + b, 0);
    const r1 = createRng("chunks");
    const parts = sizes.map((s) => r1.fillUniform(new Float64Array(s)));
    const joined = Float64Array.from(parts.flatMap((p) => [...p]));
    const r2 = createRng("chunks");
    expect(
      firstDiff(
        joined,
        Float64Array.from({ length: total }, () => r2.uniform()),
      ),
    ).toBe(-1);
    expect(r1.position).toBe(total);

    const n1 = createRng("normals");
    const np = sizes.map((s) => n1.fillNormal(new Float64Array(s), 2, 3));
    const n2 = createRng("normals");
    expect(
      firstDiff(
        Float64Array.from(np.flatMap((p) => [...p])),
        Float64Array.from({ length: total }, () => n2.normal(2, 3)),
      ),
    ).toBe(-1);
    expect(n1.state()).toEqual(n2.state());

    const i1 = createRng("ints");
    const ip = sizes.map((s) => i1.fillInt(new Uint32Array(s), 7));
    const i2 = createRng("ints");
    expect([...ip.flatMap((p) => [...p])]).toEqual(Array.from({ length: total }, () => i2.int(7)));
  });

  it("a uniform range applies lo + (hi - lo)·u alike in both forms", () => {
    const a = createRng(1).fillUniform(new Float64Array(500), -3, 5);
    const r = createRng(1);
    expect(
      firstDiff(
        a,
        Float64Array.from({ length: 500 }, () => r.uniform(-3, 5)),
      ),
    ).toBe(-1);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(-3);
    expect(Math.max(...a)).toBeLessThan(5);
  });
});

describe("keys, forks and state", () => {
  it("a stream is a function of (seed, path) only; forks compose", () => {
    const a = createRng(7, "state", 3, "walker", 1).fillUniform(new Float64Array(16));
    expect(firstDiff(createRng(7, "state", 3).fork("walker", 1).fillUniform(new Float64Array(16)), a)).toBe(-1);
    expect(firstDiff(createRng(7, "state").fork(3).fork("walker").fork(1).fillUniform(new Float64Array(16)), a)).toBe(-1);
    const parent = createRng(7, "state", 3);
    parent.fillUniform(new Float64Array(99)); // the parent's position does not move its children
    expect(firstDiff(parent.fork("walker", 1).fillUniform(new Float64Array(16)), a)).toBe(-1);
    expect(createRng(7n, "x").uniform()).toBe(createRng(7, "x").uniform());
    expect(createRng(parseSeed("7"), "x").uniform()).toBe(createRng(7, "x").uniform());
  });

  it("different paths, types and seeds give different streams", () => {
    const first = (r: Rng) => r.fillBits(new Uint32Array(4)).join(",");
    const seen = new Set([
      first(createRng(0)),
      first(createRng(1)),
      first(createRng("0")),
      first(createRng(0, 1)),
      first(createRng(0, "1")),
      first(createRng(0, 1, 2)),
      first(createRng(0, 2, 1)),
      first(createRng(0, "12")),
      first(createRng(0, "1", "2")),
      first(createRng(0, -1)),
    ]);
    expect(seen.size).toBe(10);
  });

  it("split(n) is fork(0..n-1); state() continues a stream exactly, also its spare normal", () => {
    const r = createRng(3);
    expect(r.split(3).map((c) => c.uniform())).toEqual([0, 1, 2].map((i) => createRng(3).fork(i).uniform()));
    r.fillUniform(new Float64Array(11));
    r.normal();
    const copy = Rng.fromState(JSON.parse(JSON.stringify(r.state())));
    expect([copy.normal(), copy.uniform(), copy.int(1e9)]).toEqual([r.normal(), r.uniform(), r.int(1e9)]);
    const c2 = r.clone();
    expect(c2.fillNormal(new Float64Array(9))).toEqual(r.fillNormal(new Float64Array(9)));
  });

  it("bad keys and seeds are UsageErrors naming the element", () => {
    expect(() => createRng(1.5)).toThrow(/seed must be a string or a safe integer, got 1.5/);
    expect(() => createRng(1, "a", 0.25)).toThrow(/rng key element 1 must be/);
    expect(() => createRng(1, 2n ** 64n)).toThrow(UsageError);
    expect(() => createRng(1).fork()).toThrow(/at least one key element/);
    expect(() => createRng(1).int(0)).toThrow(/positive safe integer/);
    expect(() => createRng(1).fillInt(new Int32Array(2), 2 ** 32)).toThrow(/does not fit a Int32Array/);
    expect(() => createRng(1).uniform(0, Infinity)).toThrow(/hi must be a finite number/);
    expect(() => Rng.fromState({ key: [1, 2, 3], position: 0, spare: null } as never)).toThrow(UsageError);
  });

  it("the seed: init option, else ZMPI_SEED, else 0", () => {
    expect(resolveSeed(5, { ZMPI_SEED: "9" })).toBe(5);
    expect(resolveSeed(undefined, { ZMPI_SEED: "9" })).toBe(9);
    expect(resolveSeed(undefined, { ZMPI_SEED: "18446744073" })).toBe(18446744073);
    expect(resolveSeed(undefined, { ZMPI_SEED: "9223372036854775807" })).toBe(9223372036854775807n);
    expect(resolveSeed(undefined, { ZMPI_SEED: "run-a" })).toBe("run-a");
    expect(resolveSeed(undefined, { ZMPI_SEED: " " })).toBe(0);
    expect(resolveSeed(undefined, {})).toBe(0);
    expect(() => resolveSeed(0.5, {})).toThrow(/init\(\{ seed \}\)/);
  });
});

describe("our log and sin/cos (used by the normals) match Math's to the last bit or two", () => {
  it("ln u over the whole range of 52-bit uniforms", () => {
    const r = createRng("ln");
    let worst = 0;
    for (let i = 0; i < 20000; i++) {
      const lo = r.int(2 ** 32);
      const hi = i < 40 ? i : r.int(2 ** 32) >>> (i % 32); // include tiny u (leading zeros)
      const u = (hi * 1048576 + (lo >>> 12) + 0.5) * 2 ** -52;
      const ref = Math.log(u);
      worst = Math.max(worst, Math.abs(lnUniform(lo, hi) - ref) / Math.abs(ref) / Number.EPSILON);
    }
    expect(worst).toBeLessThan(2);
  });

  it("sin and cos on [0, π/4]", () => {
    let worst = 0;
    for (let i = 0; i <= 20000; i++) {
      const x = (i / 20000) * (Math.PI / 4);
      worst = Math.max(worst, Math.abs(kSin(x) - Math.sin(x)) / Number.EPSILON, Math.abs(kCos(x) - Math.cos(x)) / Number.EPSILON);
    }
    expect(worst).toBeLessThan(2);
  });
});

/** Φ(z), Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7, far below the KS tolerance). */
function phi(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

describe("statistical sanity (fixed streams, so these are reproducible; bounds at about 5 sigma)", () => {
  it("uniforms: mean, variance, and a chi-square on 100 bins", () => {
    const u = createRng("stats").fillUniform(new Float64Array(N));
    let m = 0,
      v = 0;
    const bins = new Float64Array(100);
    for (const x of u) {
      m += x;
      bins[Math.floor(x * 100)]!++;
    }
    m /= N;
    for (const x of u) v += (x - m) ** 2;
    v /= N;
    expect(Math.abs(m - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / N));
    expect(Math.abs(v - 1 / 12)).toBeLessThan(5 * Math.sqrt(1 / 180 / N));
    const e = N / 100;
    const chi = bins.reduce((s, o) => s + (o - e) ** 2 / e, 0);
    expect(chi).toBeLessThan(99 + 5 * Math.sqrt(2 * 99)); // too lumpy
    expect(chi).toBeGreaterThan(99 - 5 * Math.sqrt(2 * 99)); // too even to be random
    const f = createRng("stats32").fillUniform(new Float32Array(N));
    expect(f.reduce((a, b) => Math.max(a, b), -1)).toBeLessThan(1);
    expect(f.reduce((a, b) => Math.min(a, b), 2)).toBeGreaterThanOrEqual(0);
  });

  it("normals: four moments and a Kolmogorov–Smirnov test against Φ", () => {
    const z = createRng("stats").fork("normal").fillNormal(new Float64Array(N));
    const mom = [1, 2, 3, 4].map((p) => z.reduce((s, x) => s + x ** p, 0) / N);
    expect(Math.abs(mom[0]!)).toBeLessThan(5 / Math.sqrt(N));
    expect(Math.abs(mom[1]! - 1)).toBeLessThan(5 * Math.sqrt(2 / N));
    expect(Math.abs(mom[2]!)).toBeLessThan(5 * Math.sqrt(15 / N));
    expect(Math.abs(mom[3]! - 3)).toBeLessThan(5 * Math.sqrt(96 / N));
    const s = Float64Array.from(z.subarray(0, 200_000)).sort();
    let d = 0;
    for (let i = 0; i < s.length; i++) {
      const p = phi(s[i]!);
      d = Math.max(d, Math.abs(p - i / s.length), Math.abs(p - (i + 1) / s.length));
    }
    expect(d * Math.sqrt(s.length)).toBeLessThan(1.95); // p = 0.001
  });

  it("integers: the range, and a chi-square over 10 values", () => {
    const k = createRng("ints").fillInt(new Int32Array(200_000), 10);
    const counts = new Array(10).fill(0);
    for (const x of k) counts[x]++;
    expect(k.reduce((a, b) => Math.min(a, b), 99)).toBe(0);
    expect(k.reduce((a, b) => Math.max(a, b), -1)).toBe(9);
    const e = 20_000;
    const chi = counts.reduce((s, o) => s + (o - e) ** 2 / e, 0);
    expect(chi).toBeLessThan(9 + 5 * Math.sqrt(18));
    const big = createRng("big").int(Number.MAX_SAFE_INTEGER);
    expect(Number.isSafeInteger(big) && big >= 0).toBe(true);
  });

  it("sibling streams are independent: correlation and a joint chi-square on 10 × 10 bins", () => {
    const n = 200_000;
    const parent = createRng("siblings");
    const pairs: Array<[Rng, Rng]> = [
      [parent.fork(0), parent.fork(1)],
      [parent.fork("walker", 6), parent.fork("walker", 7)],
      [createRng(1, "x"), createRng(2, "x")],
    ];
    for (const [ra, rb] of pairs) {
      const a = ra.fillUniform(new Float64Array(n));
      const b = rb.fillUniform(new Float64Array(n));
      let sab = 0;
      const bins = new Float64Array(100);
      for (let i = 0; i < n; i++) {
        sab += (a[i]! - 0.5) * (b[i]! - 0.5);
        bins[Math.floor(a[i]! * 10) * 10 + Math.floor(b[i]! * 10)]!++;
      }
      const corr = sab / n / (1 / 12);
      expect(Math.abs(corr)).toBeLessThan(5 / Math.sqrt(n));
      const e = n / 100;
      const chi = bins.reduce((s, o) => s + (o - e) ** 2 / e, 0);
      expect(chi).toBeLessThan(99 + 5 * Math.sqrt(198));
    }
  });
});
