// Element-wise reduce-into kernels: dst[i] = op(dst[i], src[i]).
// Pointers are byte offsets into the imported shared memory; n is an element count.
//
// One @inline body per dtype takes the op as a compile-time constant; after inlining, binaryen
// folds the op switch away, so each exported kernel is a straight SIMD loop (4 v128 per trip)
// followed by a scalar tail with the same per-element semantics (so the tail never changes a result).
//
// min/max use the wasm float min/max instructions: NaN propagates and -0 < +0, which is exactly
// Math.min / Math.max. The JS fallback (src/compute/js-kernels.ts) mirrors every op bit for bit.

import { OP_SUM, OP_PROD, OP_MIN, OP_MAX, OP_BAND, OP_BOR, OP_BXOR, OP_LAND, OP_LOR } from "./ops";

@inline function vf64(op: i32, a: v128, b: v128): v128 {
  if (op == OP_SUM) return f64x2.add(a, b);
  if (op == OP_PROD) return f64x2.mul(a, b);
  if (op == OP_MIN) return f64x2.min(a, b);
  return f64x2.max(a, b);
}
@inline function sf64(op: i32, a: f64, b: f64): f64 {
  if (op == OP_SUM) return a + b;
  if (op == OP_PROD) return a * b;
  if (op == OP_MIN) return min<f64>(a, b);
  return max<f64>(a, b);
}
@inline function vf32(op: i32, a: v128, b: v128): v128 {
  if (op == OP_SUM) return f32x4.add(a, b);
  if (op == OP_PROD) return f32x4.mul(a, b);
  if (op == OP_MIN) return f32x4.min(a, b);
  return f32x4.max(a, b);
}
@inline function sf32(op: i32, a: f32, b: f32): f32 {
  if (op == OP_SUM) return a + b;
  if (op == OP_PROD) return a * b;
  if (op == OP_MIN) return min<f32>(a, b);
  return max<f32>(a, b);
}
@inline function vi32(op: i32, a: v128, b: v128): v128 {
  if (op == OP_SUM) return i32x4.add(a, b);
  if (op == OP_PROD) return i32x4.mul(a, b);
  if (op == OP_MIN) return i32x4.min_s(a, b);
  if (op == OP_MAX) return i32x4.max_s(a, b);
  if (op == OP_BAND) return v128.and(a, b);
  if (op == OP_BOR) return v128.or(a, b);
  if (op == OP_BXOR) return v128.xor(a, b);
  const z = i32x4.splat(0);
  // ne() gives all-ones lanes; shifting right by 31 turns that into 1, so logical ops yield 0/1.
  if (op == OP_LAND) return i32x4.shr_u(v128.and(i32x4.ne(a, z), i32x4.ne(b, z)), 31);
  return i32x4.shr_u(v128.or(i32x4.ne(a, z), i32x4.ne(b, z)), 31);
}
@inline function si32(op: i32, a: i32, b: i32): i32 {
  if (op == OP_SUM) return a + b;
  if (op == OP_PROD) return a * b;
  if (op == OP_MIN) return min<i32>(a, b);
  if (op == OP_MAX) return max<i32>(a, b);
  if (op == OP_BAND) return a & b;
  if (op == OP_BOR) return a | b;
  if (op == OP_BXOR) return a ^ b;
  if (op == OP_LAND) return <i32>((a != 0) & (b != 0));
  return <i32>((a != 0) | (b != 0));
}

// Shared loop shape: `es` = element size in bytes, 64 bytes (4 v128) per trip.
@inline function loopF64(op: i32, d: usize, s: usize, n: i32): void {
  const bytes = <usize>n << 3;
  const vend = bytes & ~(<usize>63);
  let o: usize = 0;
  for (; o < vend; o += 64) {
    v128.store(d + o, vf64(op, v128.load(d + o), v128.load(s + o)));
    v128.store(d + o, vf64(op, v128.load(d + o, 16), v128.load(s + o, 16)), 16);
    v128.store(d + o, vf64(op, v128.load(d + o, 32), v128.load(s + o, 32)), 32);
    v128.store(d + o, vf64(op, v128.load(d + o, 48), v128.load(s + o, 48)), 48);
  }
  for (; o < bytes; o += 8) store<f64>(d + o, sf64(op, load<f64>(d + o), load<f64>(s + o)));
}
@inline function loopF32(op: i32, d: usize, s: usize, n: i32): void {
  const bytes = <usize>n << 2;
  const vend = bytes & ~(<usize>63);
  let o: usize = 0;
  for (; o < vend; o += 64) {
    v128.store(d + o, vf32(op, v128.load(d + o), v128.load(s + o)));
    v128.store(d + o, vf32(op, v128.load(d + o, 16), v128.load(s + o, 16)), 16);
    v128.store(d + o, vf32(op, v128.load(d + o, 32), v128.load(s + o, 32)), 32);
    v128.store(d + o, vf32(op, v128.load(d + o, 48), v128.load(s + o, 48)), 48);
  }
  for (; o < bytes; o += 4) store<f32>(d + o, sf32(op, load<f32>(d + o), load<f32>(s + o)));
}
@inline function loopI32(op: i32, d: usize, s: usize, n: i32): void {
  const bytes = <usize>n << 2;
  const vend = bytes & ~(<usize>63);
  let o: usize = 0;
  for (; o < vend; o += 64) {
    v128.store(d + o, vi32(op, v128.load(d + o), v128.load(s + o)));
    v128.store(d + o, vi32(op, v128.load(d + o, 16), v128.load(s + o, 16)), 16);
    v128.store(d + o, vi32(op, v128.load(d + o, 32), v128.load(s + o, 32)), 32);
    v128.store(d + o, vi32(op, v128.load(d + o, 48), v128.load(s + o, 48)), 48);
  }
  for (; o < bytes; o += 4) store<i32>(d + o, si32(op, load<i32>(d + o), load<i32>(s + o)));
}

export function reduce_sum_f64(d: usize, s: usize, n: i32): void { loopF64(OP_SUM, d, s, n); }
export function reduce_prod_f64(d: usize, s: usize, n: i32): void { loopF64(OP_PROD, d, s, n); }
export function reduce_min_f64(d: usize, s: usize, n: i32): void { loopF64(OP_MIN, d, s, n); }
export function reduce_max_f64(d: usize, s: usize, n: i32): void { loopF64(OP_MAX, d, s, n); }

export function reduce_sum_f32(d: usize, s: usize, n: i32): void { loopF32(OP_SUM, d, s, n); }
export function reduce_prod_f32(d: usize, s: usize, n: i32): void { loopF32(OP_PROD, d, s, n); }
export function reduce_min_f32(d: usize, s: usize, n: i32): void { loopF32(OP_MIN, d, s, n); }
export function reduce_max_f32(d: usize, s: usize, n: i32): void { loopF32(OP_MAX, d, s, n); }

export function reduce_sum_i32(d: usize, s: usize, n: i32): void { loopI32(OP_SUM, d, s, n); }
export function reduce_prod_i32(d: usize, s: usize, n: i32): void { loopI32(OP_PROD, d, s, n); }
export function reduce_min_i32(d: usize, s: usize, n: i32): void { loopI32(OP_MIN, d, s, n); }
export function reduce_max_i32(d: usize, s: usize, n: i32): void { loopI32(OP_MAX, d, s, n); }
export function reduce_band_i32(d: usize, s: usize, n: i32): void { loopI32(OP_BAND, d, s, n); }
export function reduce_bor_i32(d: usize, s: usize, n: i32): void { loopI32(OP_BOR, d, s, n); }
export function reduce_bxor_i32(d: usize, s: usize, n: i32): void { loopI32(OP_BXOR, d, s, n); }
export function reduce_land_i32(d: usize, s: usize, n: i32): void { loopI32(OP_LAND, d, s, n); }
export function reduce_lor_i32(d: usize, s: usize, n: i32): void { loopI32(OP_LOR, d, s, n); }
