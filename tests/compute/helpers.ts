// Shared helpers of the compute tests: seeded random arrays and exact comparison.
import type { KernelArray } from "../../src/compute/index.js";

/** Small deterministic PRNG (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type KernelCtor = Float64ArrayConstructor | Float32ArrayConstructor | Int32ArrayConstructor;
type Made<C> = C extends Float64ArrayConstructor ? Float64Array : C extends Float32ArrayConstructor ? Float32Array : Int32Array;

/** Random values: floats in [-1, 1) (scaled), ints over the full 32-bit range, with some zeros. */
export function randomArray<C extends KernelCtor>(C: C, n: number, seed: number, scale = 1): Made<C> {
  const r = rng(seed);
  const a = new C(n) as KernelArray;
  const isInt = (a as KernelArray) instanceof Int32Array;
  for (let i = 0; i < n; i++) {
    const u = r();
    if (u < 0.05) a[i] = 0;
    else a[i] = isInt ? (r() * 4294967296) | 0 : (r() * 2 - 1) * scale;
  }
  return a as Made<C>;
}

/** Index of the first element that differs (Object.is, NaN == NaN), or -1. */
export function firstDiff(a: ArrayLike<number | bigint>, b: ArrayLike<number | bigint>): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) {
    const x = a[i],
      y = b[i];
    if (!Object.is(x, y)) return i;
  }
  return -1;
}

/** Sizes every kernel is tried on: empty, tiny, around the vector widths and unroll, and a few odd large ones. */
export const SIZES = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 255, 256, 257, 1000, 4099, 65537];
