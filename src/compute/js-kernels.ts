/**
 * Plain-JS kernels: the fallback when WASM SIMD is unavailable (or `ZMPI_KERNELS=js`), the path
 * for small arrays and for integer dtypes without WASM kernels.
 *
 * Each kernel replays the WASM kernel's exact operation order and rounding so both backends are
 * bit-identical (NaN payloads aside): f32 arithmetic is emulated with Math.fround (an f32 add or
 * multiply done in f64 and rounded once equals the f32 operation, since f64 has more than
 * 2·24+2 significand bits); folds use the same 4×v128 lane accumulators; GEMM uses the same
 * KC slicing and write-back. Math.min/Math.max already have the wasm min/max semantics
 * (NaN propagates, -0 < +0).
 */
import type { BigIntArray, FloatArray, FoldOp, KernelArray, KernelBackend, ReduceOp } from "./types.js";
import { GEMM_KC } from "./types.js";

/** Any typed array of numbers (everything but the BigInt arrays). */
interface NumArray {
  readonly length: number;
  [index: number]: number;
}

const fround = Math.fround;

/**
 * dst[i] = op(dst[i], src[i]) for any number typed array. Integer stores wrap (ToInt32/ToUint8…
 * are modular), so sum, prod (via Math.imul: the low 32 bits are exact) and the bitwise ops
 * give two's-complement results for every integer width; float stores round like the WASM op.
 */
export function reduceIntoNumbers(op: ReduceOp, d: NumArray, s: NumArray, isFloat: boolean): void {
  const n = d.length;
  switch (op) {
    case "sum":
      for (let i = 0; i < n; i++) d[i] = d[i]! + s[i]!;
      return;
    case "prod":
      if (isFloat) for (let i = 0; i < n; i++) d[i] = d[i]! * s[i]!;
      else for (let i = 0; i < n; i++) d[i] = Math.imul(d[i]!, s[i]!);
      return;
    case "min":
      for (let i = 0; i < n; i++) d[i] = Math.min(d[i]!, s[i]!);
      return;
    case "max":
      for (let i = 0; i < n; i++) d[i] = Math.max(d[i]!, s[i]!);
      return;
    case "band":
      for (let i = 0; i < n; i++) d[i] = d[i]! & s[i]!;
      return;
    case "bor":
      for (let i = 0; i < n; i++) d[i] = d[i]! | s[i]!;
      return;
    case "bxor":
      for (let i = 0; i < n; i++) d[i] = d[i]! ^ s[i]!;
      return;
    case "land":
      for (let i = 0; i < n; i++) d[i] = d[i] !== 0 && s[i] !== 0 ? 1 : 0;
      return;
    case "lor":
      for (let i = 0; i < n; i++) d[i] = d[i] !== 0 || s[i] !== 0 ? 1 : 0;
      return;
  }
}

/** dst[i] = op(dst[i], src[i]) on BigInt64/BigUint64 arrays: exact BigInt math, wrapped to 64 bits on store. */
export function reduceIntoBigInts(op: ReduceOp, d: BigIntArray, s: BigIntArray): void {
  const n = d.length;
  switch (op) {
    case "sum":
      for (let i = 0; i < n; i++) d[i] = d[i]! + s[i]!;
      return;
    case "prod":
      for (let i = 0; i < n; i++) d[i] = d[i]! * s[i]!;
      return;
    case "min":
      for (let i = 0; i < n; i++) if (s[i]! < d[i]!) d[i] = s[i]!;
      return;
    case "max":
      for (let i = 0; i < n; i++) if (s[i]! > d[i]!) d[i] = s[i]!;
      return;
    case "band":
      for (let i = 0; i < n; i++) d[i] = d[i]! & s[i]!;
      return;
    case "bor":
      for (let i = 0; i < n; i++) d[i] = d[i]! | s[i]!;
      return;
    case "bxor":
      for (let i = 0; i < n; i++) d[i] = d[i]! ^ s[i]!;
      return;
    case "land":
      for (let i = 0; i < n; i++) d[i] = d[i] !== 0n && s[i] !== 0n ? 1n : 0n;
      return;
    case "lor":
      for (let i = 0; i < n; i++) d[i] = d[i] !== 0n || s[i] !== 0n ? 1n : 0n;
      return;
  }
}

// Lane accumulators, reused (kernels are synchronous, so one set per thread is enough).
const acc64 = new Float64Array(8);
const acc32 = new Float32Array(16);
const accI32 = new Int32Array(16);

function combine(op: FoldOp, a: number, b: number, f32: boolean): number {
  let r: number;
  if (op === "sum") r = a + b;
  else if (op === "prod") r = a * b;
  else if (op === "min") r = Math.min(a, b);
  else r = Math.max(a, b);
  return f32 ? fround(r) : r;
}

function identity(op: FoldOp): number {
  return op === "sum" ? 0 : op === "prod" ? 1 : op === "min" ? Infinity : -Infinity;
}

/** Float fold replaying kernels/fold.ts: lanes of 4 v128 accumulators, fixed combine tree, tail. */
function foldFloat(op: FoldOp, x: FloatArray): number {
  const f32 = x instanceof Float32Array;
  const lanes = f32 ? 16 : 8; // 4 v128 accumulators × (4 or 2) lanes
  const acc = f32 ? acc32 : acc64;
  acc.fill(identity(op));
  const n = x.length;
  const vend = n - (n % lanes);
  let i = 0;
  switch (op) {
    case "sum":
      for (; i < vend; i += lanes) for (let l = 0; l < lanes; l++) acc[l] = acc[l]! + x[i + l]!;
      break;
    case "prod":
      for (; i < vend; i += lanes) for (let l = 0; l < lanes; l++) acc[l] = acc[l]! * x[i + l]!;
      break;
    case "min":
      for (; i < vend; i += lanes) for (let l = 0; l < lanes; l++) acc[l] = Math.min(acc[l]!, x[i + l]!);
      break;
    case "max":
      for (; i < vend; i += lanes) for (let l = 0; l < lanes; l++) acc[l] = Math.max(acc[l]!, x[i + l]!);
      break;
  }
  return finishFold(op, acc, lanes, f32, x, i);
}

/** s = op(op(a0, a1), op(a2, a3)) lane-wise, then lanes pairwise, then the tail in order. */
function finishFold(op: FoldOp, acc: Float64Array | Float32Array, lanes: number, f32: boolean, x: FloatArray, from: number): number {
  const w = lanes / 4; // lanes per v128
  const s: number[] = [];
  for (let l = 0; l < w; l++) {
    s.push(combine(op, combine(op, acc[l]!, acc[w + l]!, f32), combine(op, acc[2 * w + l]!, acc[3 * w + l]!, f32), f32));
  }
  let r = w === 2 ? combine(op, s[0]!, s[1]!, f32) : combine(op, combine(op, s[0]!, s[1]!, f32), combine(op, s[2]!, s[3]!, f32), f32);
  for (let i = from; i < x.length; i++) r = combine(op, r, x[i]!, f32);
  return r;
}

function foldI32(op: FoldOp, x: Int32Array): number {
  const n = x.length;
  if (op === "sum") {
    // Exact, like the wasm i64 lanes: Number chunks stay below 2^53, then one BigInt add per chunk.
    let total = 0n;
    const CH = 1 << 20;
    for (let o = 0; o < n; o += CH) {
      const e = Math.min(n, o + CH);
      let s = 0;
      for (let i = o; i < e; i++) s += x[i]!;
      total += BigInt(s);
    }
    return Number(total);
  }
  const acc = accI32;
  const id = op === "prod" ? 1 : op === "min" ? 0x7fffffff : -0x80000000;
  acc.fill(id);
  const vend = n - (n % 16);
  let i = 0;
  if (op === "prod") for (; i < vend; i += 16) for (let l = 0; l < 16; l++) acc[l] = Math.imul(acc[l]!, x[i + l]!);
  else if (op === "min") for (; i < vend; i += 16) for (let l = 0; l < 16; l++) acc[l] = Math.min(acc[l]!, x[i + l]!);
  else for (; i < vend; i += 16) for (let l = 0; l < 16; l++) acc[l] = Math.max(acc[l]!, x[i + l]!);
  const f = op === "prod" ? Math.imul : op === "min" ? Math.min : Math.max;
  let r = id;
  for (let l = 0; l < 16; l++) r = f(r, acc[l]!); // prod (mod 2^32), min and max are order-free
  for (; i < n; i++) r = f(r, x[i]!);
  return r;
}

function dotJs(x: FloatArray, y: FloatArray): number {
  const f32 = x instanceof Float32Array;
  const lanes = f32 ? 16 : 8;
  const acc = f32 ? acc32 : acc64;
  acc.fill(0);
  const n = x.length;
  const vend = n - (n % lanes);
  let i = 0;
  if (f32) {
    for (; i < vend; i += 16) for (let l = 0; l < 16; l++) acc[l] = acc[l]! + fround(x[i + l]! * y[i + l]!);
  } else {
    for (; i < vend; i += 8) for (let l = 0; l < 8; l++) acc[l] = acc[l]! + x[i + l]! * y[i + l]!;
  }
  let r = finishFold("sum", acc, lanes, f32, x, n); // empty tail here; the products tail follows
  for (; i < n; i++) r = f32 ? fround(r + fround(x[i]! * y[i]!)) : r + x[i]! * y[i]!;
  return r;
}

function axpyJs(alpha: number, x: FloatArray, y: FloatArray): void {
  const n = x.length;
  if (y instanceof Float32Array) {
    const a = fround(alpha);
    for (let i = 0; i < n; i++) y[i] = y[i]! + fround(a * x[i]!);
  } else {
    for (let i = 0; i < n; i++) y[i] = y[i]! + alpha * x[i]!;
  }
}

function scaleJs(alpha: number, x: FloatArray): void {
  const a = x instanceof Float32Array ? fround(alpha) : alpha;
  for (let i = 0; i < x.length; i++) x[i] = a * x[i]!;
}

/**
 * GEMM replaying kernels/gemm.ts per element: for each KC slice of k, acc = Σ round(a·b) in p
 * order from 0, then c = round(alpha·acc) (+ round(beta'·c) unless beta' == 0). The row
 * accumulator has the element type, so its stores round like the wasm lanes.
 */
function gemmJs(m: number, n: number, k: number, alpha: number, a: FloatArray, b: FloatArray, beta: number, c: FloatArray): void {
  const f32 = c instanceof Float32Array;
  const al = f32 ? fround(alpha) : alpha;
  const bt = f32 ? fround(beta) : beta;
  if (m === 0 || n === 0) return;
  if (k === 0) {
    for (let i = 0; i < m * n; i++) c[i] = bt === 0 ? 0 : bt * c[i]!;
    return;
  }
  const acc = f32 ? new Float32Array(n) : new Float64Array(n);
  for (let pc = 0; pc < k; pc += GEMM_KC) {
    const pe = Math.min(k, pc + GEMM_KC);
    const be = pc === 0 ? bt : 1;
    for (let i = 0; i < m; i++) {
      acc.fill(0);
      const arow = i * k;
      if (f32) {
        for (let p = pc; p < pe; p++) {
          const aip = a[arow + p]!;
          const brow = p * n;
          for (let j = 0; j < n; j++) acc[j] = acc[j]! + fround(aip * b[brow + j]!);
        }
      } else {
        for (let p = pc; p < pe; p++) {
          const aip = a[arow + p]!;
          const brow = p * n;
          for (let j = 0; j < n; j++) acc[j] = acc[j]! + aip * b[brow + j]!;
        }
      }
      const crow = i * n;
      if (be === 0) {
        for (let j = 0; j < n; j++) c[crow + j] = al * acc[j]!;
      } else if (f32) {
        for (let j = 0; j < n; j++) c[crow + j] = fround(al * acc[j]!) + fround(be * c[crow + j]!);
      } else {
        for (let j = 0; j < n; j++) c[crow + j] = al * acc[j]! + be * c[crow + j]!;
      }
    }
  }
}

function transposeJs(src: KernelArray, rows: number, cols: number, dst: KernelArray): void {
  const TB = 32;
  for (let ib = 0; ib < rows; ib += TB) {
    const ie = Math.min(rows, ib + TB);
    for (let jb = 0; jb < cols; jb += TB) {
      const je = Math.min(cols, jb + TB);
      for (let i = ib; i < ie; i++) for (let j = jb; j < je; j++) dst[j * rows + i] = src[i * cols + j]!;
    }
  }
}

/** The plain-JS backend. */
export const jsKernels: KernelBackend = {
  name: "js",
  reduceInto(op: ReduceOp, dst: KernelArray, src: KernelArray): void {
    reduceIntoNumbers(op, dst, src, !(dst instanceof Int32Array));
  },
  fold(op: FoldOp, x: KernelArray): number {
    return x instanceof Int32Array ? foldI32(op, x) : foldFloat(op, x);
  },
  dot: dotJs,
  axpy: axpyJs,
  scale: scaleJs,
  gemm: gemmJs,
  transpose: transposeJs,
};
