/** Argument checks shared by the module-level kernels and the pool; every failure is a UsageError. */
import { UsageError } from "../errors.js";
import type { FloatArray, FoldOp, GemmOptions, KernelArray, ReduceOp, ReducibleArray } from "./types.js";
import { INTEGER_ONLY_OPS, REDUCE_OPS } from "./types.js";

const FOLD_OPS: readonly FoldOp[] = ["sum", "prod", "min", "max"];

function typeName(x: unknown): string {
  if (x === null) return "null";
  if (typeof x !== "object") return typeof x;
  return (x as object).constructor?.name ?? "object";
}

/** True for the typed arrays reduceInto accepts. */
function isReducible(x: unknown): x is ReducibleArray {
  return (
    (x instanceof Float64Array ||
      x instanceof Float32Array ||
      x instanceof Int32Array ||
      x instanceof Uint32Array ||
      x instanceof Int16Array ||
      x instanceof Uint16Array ||
      x instanceof Int8Array ||
      x instanceof Uint8Array ||
      x instanceof BigInt64Array ||
      x instanceof BigUint64Array) &&
    !(x instanceof Uint8ClampedArray)
  );
}

/** True for arrays with WASM kernels (f64, f32, i32). */
export function isKernelArray(x: unknown): x is KernelArray {
  return x instanceof Float64Array || x instanceof Float32Array || x instanceof Int32Array;
}

function isFloatArray(x: unknown): x is FloatArray {
  return x instanceof Float64Array || x instanceof Float32Array;
}

export function checkReduce(where: string, op: ReduceOp, dst: unknown, src: unknown): void {
  if (!REDUCE_OPS.includes(op)) {
    throw new UsageError(`unknown op ${JSON.stringify(op)}; expected one of ${REDUCE_OPS.join(", ")}`, { op: where });
  }
  if (!isReducible(dst)) throw new UsageError(`dst must be a numeric typed array (not Uint8ClampedArray), got ${typeName(dst)}`, { op: where });
  if (!isReducible(src)) throw new UsageError(`src must be a numeric typed array (not Uint8ClampedArray), got ${typeName(src)}`, { op: where });
  if (dst.constructor !== src.constructor) {
    throw new UsageError(`dst and src must have the same type, got ${typeName(dst)} and ${typeName(src)}`, { op: where });
  }
  if (dst.length !== src.length) throw new UsageError(`dst has ${dst.length} elements but src has ${src.length}`, { op: where });
  if (INTEGER_ONLY_OPS.has(op) && (dst instanceof Float64Array || dst instanceof Float32Array)) {
    throw new UsageError(`op ${op} is defined for integer arrays only, got ${typeName(dst)}`, { op: where });
  }
}

export function checkFold(where: string, op: FoldOp, x: unknown): asserts x is KernelArray {
  if (!FOLD_OPS.includes(op)) throw new UsageError(`unknown op ${JSON.stringify(op)}; expected one of ${FOLD_OPS.join(", ")}`, { op: where });
  if (!isKernelArray(x)) throw new UsageError(`expected a Float64Array, Float32Array or Int32Array, got ${typeName(x)}`, { op: where });
}

export function checkFloatPair(where: string, x: unknown, y: unknown): void {
  if (!isFloatArray(x)) throw new UsageError(`x must be a Float64Array or Float32Array, got ${typeName(x)}`, { op: where });
  if (!isFloatArray(y)) throw new UsageError(`y must be a Float64Array or Float32Array, got ${typeName(y)}`, { op: where });
  if (x.constructor !== y.constructor) throw new UsageError(`x and y must have the same type, got ${typeName(x)} and ${typeName(y)}`, { op: where });
  if (x.length !== y.length) throw new UsageError(`x has ${x.length} elements but y has ${y.length}`, { op: where });
}

export function checkFloat(where: string, x: unknown): asserts x is FloatArray {
  if (!isFloatArray(x)) throw new UsageError(`expected a Float64Array or Float32Array, got ${typeName(x)}`, { op: where });
}

function checkDim(where: string, name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0 || v > 0x7fffffff) throw new UsageError(`${name} must be a non-negative integer, got ${v}`, { op: where });
}

/** Validate GEMM arguments; returns alpha and beta with their defaults. */
export function checkGemm(where: string, a: unknown, b: unknown, m: number, n: number, k: number, opts: GemmOptions): { alpha: number; beta: number } {
  checkDim(where, "m", m);
  checkDim(where, "n", n);
  checkDim(where, "k", k);
  if (!isFloatArray(a)) throw new UsageError(`A must be a Float64Array or Float32Array, got ${typeName(a)}`, { op: where });
  if (!isFloatArray(b) || b.constructor !== a.constructor) throw new UsageError(`B must have A's type (${typeName(a)}), got ${typeName(b)}`, { op: where });
  if (a.length !== m * k) throw new UsageError(`A must have m*k = ${m}*${k} = ${m * k} elements, got ${a.length}`, { op: where });
  if (b.length !== k * n) throw new UsageError(`B must have k*n = ${k}*${n} = ${k * n} elements, got ${b.length}`, { op: where });
  const alpha = opts.alpha ?? 1;
  const beta = opts.beta ?? 0;
  if (typeof alpha !== "number" || typeof beta !== "number") throw new UsageError("alpha and beta must be numbers", { op: where });
  if (opts.out !== undefined) {
    if (opts.out.constructor !== a.constructor) throw new UsageError(`out must have A's type (${typeName(a)}), got ${typeName(opts.out)}`, { op: where });
    if (opts.out.length !== m * n) throw new UsageError(`out must have m*n = ${m * n} elements, got ${opts.out.length}`, { op: where });
    if (overlaps(opts.out, a) || overlaps(opts.out, b)) throw new UsageError("out must not share memory with A or B", { op: where });
  } else if (beta !== 0) {
    throw new UsageError("beta != 0 needs the existing C passed as out", { op: where });
  }
  return { alpha, beta };
}

export function checkTranspose(where: string, src: unknown, rows: number, cols: number, out: unknown): void {
  checkDim(where, "rows", rows);
  checkDim(where, "cols", cols);
  if (!isKernelArray(src)) throw new UsageError(`expected a Float64Array, Float32Array or Int32Array, got ${typeName(src)}`, { op: where });
  if (src.length !== rows * cols) throw new UsageError(`src must have rows*cols = ${rows * cols} elements, got ${src.length}`, { op: where });
  if (out !== undefined) {
    if (!isKernelArray(out) || out.constructor !== src.constructor || out.length !== src.length) {
      throw new UsageError(`out must be a ${typeName(src)} of ${src.length} elements`, { op: where });
    }
    if (overlaps(out as ArrayBufferView, src)) {
      throw new UsageError("out must not overlap src (transpose is out of place)", { op: where });
    }
  }
}

/** True when two views share any byte. */
function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer && a.byteLength > 0 && b.byteLength > 0 && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** True when two views share memory but are not the same range (an in-place op would read values it already wrote). */
export function partiallyOverlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.buffer !== b.buffer) return false;
  if (a.byteOffset === b.byteOffset) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}
