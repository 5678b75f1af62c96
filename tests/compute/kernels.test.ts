// Every kernel of both backends against straightforward references, and the two backends against
// each other (bit-identical by construction).
import { describe, expect, it } from "vitest";
import { jsBackend, wasmBackend } from "../../src/compute/backend.js";
import { GEMM_KC, type FloatArray, type FoldOp, type KernelBackend, type ReduceOp } from "../../src/compute/index.js";
import { firstDiff, randomArray, rng, SIZES } from "./helpers.js";

const wasm = wasmBackend();
const backends: Array<[string, KernelBackend]> = [["js", jsBackend()]];
if (wasm) backends.push(["wasm-simd", wasm]);

const f32 = Math.fround;
const DTYPES = [Float64Array, Float32Array, Int32Array] as const;
type DC = (typeof DTYPES)[number];

/** Reference op on one element pair, with the dtype's rounding/wrapping. */
function refOp(op: ReduceOp, C: DC, a: number, b: number): number {
  const round = C === Float32Array ? f32 : C === Int32Array ? (x: number) => x | 0 : (x: number) => x;
  switch (op) {
    case "sum":
      return round(a + b);
    case "prod":
      return C === Int32Array ? Math.imul(a, b) : round(a * b);
    case "min":
      return Math.min(a, b);
    case "max":
      return Math.max(a, b);
    case "band":
      return a & b;
    case "bor":
      return a | b;
    case "bxor":
      return a ^ b;
    case "land":
      return a !== 0 && b !== 0 ? 1 : 0;
    case "lor":
      return a !== 0 || b !== 0 ? 1 : 0;
  }
}

function opsFor(C: DC): ReduceOp[] {
  return C === Int32Array ? ["sum", "prod", "min", "max", "band", "bor", "bxor", "land", "lor"] : ["sum", "prod", "min", "max"];
}

describe("kernel backends", () => {
  it("the WASM SIMD backend loads on this machine", () => {
    expect(wasm).not.toBeNull();
  });

  it("the GEMM K-slice compiled into the wasm matches the JS replay", () => {
    expect(wasm!.gemmKc("f32")).toBe(GEMM_KC);
    expect(wasm!.gemmKc("f64")).toBe(GEMM_KC);
  });
});

for (const [name, be] of backends) {
  describe(`${name}: reduceInto`, () => {
    for (const C of DTYPES) {
      for (const op of opsFor(C)) {
        it(`${C.name} ${op} on every size`, () => {
          for (const n of SIZES) {
            const d = randomArray(C, n, n * 7 + 1);
            const s = randomArray(C, n, n * 13 + 2);
            const want = new C(n);
            for (let i = 0; i < n; i++) want[i] = refOp(op, C, d[i]!, s[i]!);
            be.reduceInto(op, d, s);
            expect(firstDiff(d, want), `n=${n}`).toBe(-1);
          }
        });
      }
    }

    it("min/max: NaN propagates and -0 < +0, like Math.min/Math.max, at every lane position", () => {
      const specials = [NaN, -0, 0, 1, -1, Infinity, -Infinity];
      for (const C of [Float64Array, Float32Array] as const) {
        for (const op of ["min", "max"] as const) {
          const n = specials.length * specials.length * 3; // odd positions, SIMD body and tail
          const d = new C(n),
            s = new C(n);
          for (let i = 0; i < n; i++) {
            d[i] = specials[i % specials.length]!;
            s[i] = specials[Math.floor(i / specials.length) % specials.length]!;
          }
          const want = Array.from(d, (x, i) => (op === "min" ? Math.min(x, s[i]!) : Math.max(x, s[i]!)));
          be.reduceInto(op, d, s);
          expect(firstDiff(d, want)).toBe(-1);
        }
      }
      // Spot checks spelled out.
      const d = new Float64Array([-0, 0, NaN, 1]),
        s = new Float64Array([0, -0, 1, NaN]);
      be.reduceInto("min", d, s);
      expect(Object.is(d[0], -0)).toBe(true);
      expect(Object.is(d[1], -0)).toBe(true);
      expect(d[2]).toBeNaN();
      expect(d[3]).toBeNaN();
    });
  });

  describe(`${name}: fold, dot, axpy, scale`, () => {
    for (const C of DTYPES) {
      for (const op of ["sum", "prod", "min", "max"] as FoldOp[]) {
        it(`fold ${op} ${C.name}`, () => {
          for (const n of SIZES) {
            // prod of many values under/overflows; keep it meaningful with values near 1.
            const x = op === "prod" && C !== Int32Array ? randomArray(C, n, n + 5).map((v) => 1 + v / 64) : randomArray(C, n, n + 5);
            const got = be.fold(op, x);
            if (op === "min" || op === "max") {
              const want = C === Int32Array && n === 0 ? (op === "min" ? 0x7fffffff : -0x80000000) : op === "min" ? Math.min(...x) : Math.max(...x);
              expect(got, `n=${n}`).toBe(want);
            } else if (C === Int32Array) {
              let want = op === "sum" ? 0n : 1n;
              for (const v of x) want = op === "sum" ? want + BigInt(v) : BigInt.asIntN(32, want * BigInt(v));
              expect(got, `n=${n}`).toBe(Number(want));
            } else {
              let want = op === "sum" ? 0 : 1;
              for (const v of x) want = op === "sum" ? want + v : want * v;
              const tol = (C === Float32Array ? 1e-5 : 1e-13) * Math.max(1, n) * (op === "sum" ? 1 : Math.abs(want));
              expect(Math.abs(got - want), `n=${n}`).toBeLessThanOrEqual(tol);
            }
          }
        });
      }
    }

    for (const C of [Float64Array, Float32Array] as const) {
      it(`dot ${C.name}`, () => {
        for (const n of SIZES) {
          const x = randomArray(C, n, n + 11),
            y = randomArray(C, n, n + 12);
          let want = 0;
          for (let i = 0; i < n; i++) want += x[i]! * y[i]!;
          expect(Math.abs(be.dot(x, y) - want), `n=${n}`).toBeLessThanOrEqual((C === Float32Array ? 1e-6 : 1e-14) * Math.max(1, n));
        }
      });

      it(`axpy and scale ${C.name}`, () => {
        const round = C === Float32Array ? f32 : (v: number) => v;
        for (const n of SIZES) {
          const x = randomArray(C, n, n + 21),
            y = randomArray(C, n, n + 22);
          const alpha = -0.37;
          const a = round(alpha);
          const want = Array.from(y, (v, i) => round(v + round(a * x[i]!)));
          be.axpy(alpha, x, y);
          expect(firstDiff(y, want), `axpy n=${n}`).toBe(-1);
          const want2 = Array.from(y, (v) => round(a * v));
          be.scale(alpha, y);
          expect(firstDiff(y, want2), `scale n=${n}`).toBe(-1);
        }
      });
    }
  });

  describe(`${name}: gemm and transpose`, () => {
    function naive(m: number, n: number, k: number, alpha: number, a: FloatArray, b: FloatArray, beta: number, c0: FloatArray): { ref: Float64Array; bound: Float64Array } {
      const ref = new Float64Array(m * n),
        bound = new Float64Array(m * n);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0,
            sa = 0;
          for (let p = 0; p < k; p++) {
            s += a[i * k + p]! * b[p * n + j]!;
            sa += Math.abs(a[i * k + p]! * b[p * n + j]!);
          }
          const c = beta === 0 ? 0 : beta * c0[i * n + j]!;
          ref[i * n + j] = alpha * s + c;
          bound[i * n + j] = Math.abs(alpha) * sa + Math.abs(c);
        }
      }
      return { ref, bound };
    }

    const shapes: Array<[number, number, number]> = [
      [1, 1, 1],
      [17, 31, 5],
      [2, 3, 0],
      [0, 4, 4],
      [5, 300, 513],
      [130, 9, 257],
      [33, 65, 1],
      [256, 256, 256],
      [300, 200, 100],
    ];
    for (const C of [Float64Array, Float32Array] as const) {
      for (const [m, n, k] of shapes) {
        it(`${C.name} ${m}×${n}×${k} within k·ε of the naive product (alpha, beta, NaN in C ignored when beta = 0)`, () => {
          const eps = C === Float32Array ? 2 ** -24 : 2 ** -53;
          const a = randomArray(C, m * k, m + 3),
            b = randomArray(C, k * n, n + 4);
          for (const [alpha, beta] of [
            [1, 0],
            [1.5, 0.5],
            [-2, 1],
          ] as const) {
            const c0 = randomArray(C, m * n, k + 5);
            const c = beta === 0 ? new C(m * n).fill(NaN) : c0.slice();
            be.gemm(m, n, k, alpha, a, b, beta, c);
            const { ref, bound } = naive(m, n, k, alpha, a, b, beta, c0);
            for (let i = 0; i < m * n; i++) {
              const err = Math.abs(c[i]! - ref[i]!);
              if (!(err <= (k + 3) * eps * bound[i]! * 2 + 1e-300)) {
                throw new Error(`C[${i}] = ${c[i]} vs ${ref[i]} (err ${err}, bound ${bound[i]}) alpha=${alpha} beta=${beta}`);
              }
            }
          }
        });
      }
    }

    for (const C of DTYPES) {
      it(`transpose ${C.name}`, () => {
        for (const [r, c] of [
          [0, 0],
          [1, 1],
          [1, 7],
          [7, 1],
          [3, 5],
          [33, 17],
          [64, 128],
          [100, 37],
        ] as const) {
          const s = randomArray(C, r * c, r * 31 + c);
          const d = new C(r * c);
          be.transpose(s, r, c, d);
          for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) if (!Object.is(d[j * r + i], s[i * c + j])) throw new Error(`${r}x${c} at ${i},${j}`);
        }
      });
    }
  });
}

describe("js and wasm-simd are bit-identical", () => {
  const js = jsBackend();
  it.runIf(wasm !== null)("reduceInto, fold, dot, axpy, scale on random sizes", () => {
    const r = rng(99);
    for (let t = 0; t < 40; t++) {
      const n = Math.floor(r() * 5000);
      for (const C of DTYPES) {
        for (const op of opsFor(C)) {
          const d1 = randomArray(C, n, t * 3 + 1, 1e3),
            s = randomArray(C, n, t * 3 + 2, 1e3);
          const d2 = d1.slice();
          js.reduceInto(op, d1, s);
          wasm!.reduceInto(op, d2, s);
          expect(firstDiff(d1, d2)).toBe(-1);
        }
        for (const op of ["sum", "prod", "min", "max"] as FoldOp[]) {
          const x = randomArray(C, n, t + 7);
          expect(Object.is(js.fold(op, x), wasm!.fold(op, x)), `${C.name} ${op} n=${n}`).toBe(true);
        }
      }
      for (const C of [Float64Array, Float32Array] as const) {
        const x = randomArray(C, n, t + 8),
          y = randomArray(C, n, t + 9);
        expect(Object.is(js.dot(x, y), wasm!.dot(x, y))).toBe(true);
        const y1 = y.slice(),
          y2 = y.slice();
        js.axpy(0.1 * t, x, y1);
        wasm!.axpy(0.1 * t, x, y2);
        expect(firstDiff(y1, y2)).toBe(-1);
      }
    }
  });

  it.runIf(wasm !== null)("gemm on odd shapes, several K slices, alpha and beta", () => {
    for (const C of [Float64Array, Float32Array] as const) {
      for (const [m, n, k] of [
        [1, 1, 1],
        [17, 31, 5],
        [7, 13, 600],
        [64, 9, 257],
        [5, 1030, 3],
      ] as const) {
        const a = randomArray(C, m * k, 1),
          b = randomArray(C, k * n, 2);
        for (const [alpha, beta] of [
          [1, 0],
          [0.75, -1.25],
        ] as const) {
          const c1 = randomArray(C, m * n, 3),
            c2 = c1.slice();
          js.gemm(m, n, k, alpha, a, b, beta, c1);
          wasm!.gemm(m, n, k, alpha, a, b, beta, c2);
          expect(firstDiff(c1, c2), `${C.name} ${m}x${n}x${k}`).toBe(-1);
        }
      }
    }
  });
});
