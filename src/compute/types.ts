/**
 * Shared types of the compute layer: element types, ops and the kernel backend contract that
 * both the WASM SIMD core and the plain-JS fallback implement.
 */

/** Element-wise ops of {@link reduceInto}: `dst[i] = op(dst[i], src[i])`. */
export type ReduceOp = "sum" | "prod" | "min" | "max" | "band" | "bor" | "bxor" | "land" | "lor";

/** Ops that fold a whole array into one value. */
export type FoldOp = "sum" | "prod" | "min" | "max";

/** Every reduce op, in a fixed order (used for validation and tests). */
export const REDUCE_OPS: readonly ReduceOp[] = ["sum", "prod", "min", "max", "band", "bor", "bxor", "land", "lor"];

/** Ops that only make sense on integers (MPI: logical and bitwise ops are integer-only). */
export const INTEGER_ONLY_OPS: ReadonlySet<ReduceOp> = new Set<ReduceOp>(["band", "bor", "bxor", "land", "lor"]);

/** Float arrays: the dtypes of axpy, scale, dot and gemm. */
export type FloatArray = Float64Array | Float32Array;

/** Arrays with native WASM kernels: f64, f32, i32. */
export type KernelArray = Float64Array | Float32Array | Int32Array;

/** Every integer typed array {@link reduceInto} accepts (other than Int32Array, which has WASM kernels). */
export type IntegerArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

/** 64-bit integer arrays: reduced exactly with BigInt, wrapping like int64/uint64. */
export type BigIntArray = BigInt64Array | BigUint64Array;

/** Every typed array {@link reduceInto} accepts. */
export type ReducibleArray = Float64Array | Float32Array | IntegerArray | BigIntArray;

/** Name of a kernel element type. */
export type Dtype = "f64" | "f32" | "i32";

/** Name of a backend. */
export type BackendName = "wasm-simd" | "js";

/** Options of GEMM: `C = alpha·A·B + beta·C`. */
export interface GemmOptions<T extends FloatArray = FloatArray> {
  /** Result (and, when `beta != 0`, the input C): m×n row-major, same dtype as A. Allocated when omitted. */
  out?: T;
  /** Scale of A·B. Default 1. */
  alpha?: number;
  /** Scale of the existing C. Default 0 (C is then never read, so NaNs in it are ignored). Needs `out`. */
  beta?: number;
}

/**
 * A kernel backend: synchronous kernels on typed arrays. Inputs are already validated
 * (dtype, lengths, shapes) by the public functions; backends only compute.
 *
 * Both backends give bit-identical results for every kernel: the JS code replays the WASM
 * accumulation order and rounding (see the comments in `kernels/fold.ts` and `kernels/gemm.ts`),
 * except that NaN payload bits are not specified.
 */
export interface KernelBackend {
  /** `"wasm-simd"` or `"js"`. */
  readonly name: BackendName;
  /** `dst[i] = op(dst[i], src[i])`; same type and length; op valid for the dtype. */
  reduceInto(op: ReduceOp, dst: KernelArray, src: KernelArray): void;
  /** Fold to a scalar (i32 sums are exact). */
  fold(op: FoldOp, x: KernelArray): number;
  /** Σ x[i]·y[i]. */
  dot(x: FloatArray, y: FloatArray): number;
  /** y += alpha·x. */
  axpy(alpha: number, x: FloatArray, y: FloatArray): void;
  /** x *= alpha. */
  scale(alpha: number, x: FloatArray): void;
  /** c (m×n) = alpha·a (m×k)·b (k×n) + beta·c, all row-major and contiguous. */
  gemm(m: number, n: number, k: number, alpha: number, a: FloatArray, b: FloatArray, beta: number, c: FloatArray): void;
  /** dst (cols×rows) = transpose of src (rows×cols). */
  transpose(src: KernelArray, rows: number, cols: number, dst: KernelArray): void;
}

/** K-slice depth of the GEMM blocking; fixed because it determines the rounding (must match kernels/gemm.ts). */
export const GEMM_KC = 256;
