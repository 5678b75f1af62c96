/**
 * Module-level (single-thread, synchronous) kernels on typed arrays, run by the active backend.
 * See {@link kernels} for the backend choice; results are bit-identical between backends.
 */
import { kernels } from "./backend.js";
import type { FloatArray, FoldOp, GemmOptions, KernelArray } from "./types.js";
import { checkFloat, checkFloatPair, checkFold, checkGemm, checkTranspose, partiallyOverlaps } from "./validate.js";

/** `y[i] += alpha * x[i]` (Float64Array or Float32Array of equal length; f32 rounds like f32 math). */
export function axpy(alpha: number, x: FloatArray, y: FloatArray): void {
  checkFloatPair("axpy", x, y);
  if (partiallyOverlaps(x, y)) x = x.slice();
  kernels().backend.axpy(alpha, x, y);
}

/** `x[i] *= alpha` in place. */
export function scale(alpha: number, x: FloatArray): void {
  checkFloat("scale", x);
  kernels().backend.scale(alpha, x);
}

/**
 * Σ x[i]·y[i]. Accumulated in the element type with a fixed lane order (8 f64 or 16 f32 partial
 * sums), so it is reproducible and identical in both backends, but not the sequential sum.
 */
export function dot(x: FloatArray, y: FloatArray): number {
  checkFloatPair("dot", x, y);
  return kernels().backend.dot(x, y);
}

/**
 * Fold an array to one value: `sum`, `prod`, `min`, `max` (min/max of an empty array are
 * +Infinity/-Infinity for floats, the int32 extremes for Int32Array). Int32 sums are exact
 * (64-bit accumulation, one final rounding to a double); float folds use the lane order of {@link dot}.
 */
export function reduce(op: FoldOp, x: KernelArray): number {
  checkFold("reduce", op, x);
  return kernels().backend.fold(op, x);
}

/** Σ x[i] — shorthand for `reduce("sum", x)`. */
export function sum(x: KernelArray): number {
  return reduce("sum", x);
}

/**
 * GEMM, row-major: `C = alpha·A·B + beta·C` with A m×k, B k×n, C m×n, any sizes.
 * Returns `opts.out` (or a new array) holding C. Cache-blocked with SIMD micro-kernels; identical
 * between backends, and within k·ε·Σ|a||b| of a naive triple loop.
 *
 * @throws UsageError on wrong dtypes or lengths, or `beta != 0` without `out`.
 */
export function gemm<T extends FloatArray>(a: T, b: T, m: number, n: number, k: number, opts: GemmOptions<T> = {}): T {
  const { alpha, beta } = checkGemm("gemm", a, b, m, n, k, opts);
  const c = opts.out ?? new (a.constructor as new (len: number) => T)(m * n);
  kernels().backend.gemm(m, n, k, alpha, a, b, beta, c);
  return c;
}

/** Transpose a rows×cols row-major matrix into `out` (cols×rows; allocated when omitted). */
export function transpose<T extends KernelArray>(src: T, rows: number, cols: number, out?: T): T {
  checkTranspose("transpose", src, rows, cols, out);
  const dst = out ?? new (src.constructor as new (len: number) => T)(rows * cols);
  kernels().backend.transpose(src, rows, cols, dst);
  return dst;
}
