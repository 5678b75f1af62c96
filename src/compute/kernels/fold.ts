// Reductions of one array to a scalar (sum, prod, min, max) and dot products.
//
// Accumulation order is fixed and documented so the JS fallback can replay it exactly:
// four v128 accumulators a0..a3 take consecutive 16-byte groups of each 64-byte block,
// then s = op(op(a0, a1), op(a2, a3)) lane-wise, then lanes fold left to right in pairs
// (f64: l0∘l1; f32/i32: (l0∘l1)∘(l2∘l3)), then the scalar tail folds in index order.

import { OP_SUM, OP_PROD, OP_MIN, OP_MAX } from "./ops";

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
  if (op == OP_PROD) return i32x4.mul(a, b);
  if (op == OP_MIN) return i32x4.min_s(a, b);
  return i32x4.max_s(a, b);
}
@inline function si32(op: i32, a: i32, b: i32): i32 {
  if (op == OP_PROD) return a * b;
  if (op == OP_MIN) return min<i32>(a, b);
  return max<i32>(a, b);
}
@inline function idF64(op: i32): f64 {
  return op == OP_SUM ? 0.0 : op == OP_PROD ? 1.0 : op == OP_MIN ? Infinity : -Infinity;
}
@inline function idI32(op: i32): i32 {
  return op == OP_PROD ? 1 : op == OP_MIN ? i32.MAX_VALUE : i32.MIN_VALUE;
}

@inline function foldF64(op: i32, p: usize, n: i32): f64 {
  const bytes = <usize>n << 3;
  const vend = bytes & ~(<usize>63);
  const id = f64x2.splat(idF64(op));
  let a0 = id, a1 = id, a2 = id, a3 = id;
  let o: usize = 0;
  for (; o < vend; o += 64) {
    a0 = vf64(op, a0, v128.load(p + o));
    a1 = vf64(op, a1, v128.load(p + o, 16));
    a2 = vf64(op, a2, v128.load(p + o, 32));
    a3 = vf64(op, a3, v128.load(p + o, 48));
  }
  const s = vf64(op, vf64(op, a0, a1), vf64(op, a2, a3));
  let r = sf64(op, f64x2.extract_lane(s, 0), f64x2.extract_lane(s, 1));
  for (; o < bytes; o += 8) r = sf64(op, r, load<f64>(p + o));
  return r;
}
@inline function foldF32(op: i32, p: usize, n: i32): f32 {
  const bytes = <usize>n << 2;
  const vend = bytes & ~(<usize>63);
  const id = f32x4.splat(<f32>idF64(op));
  let a0 = id, a1 = id, a2 = id, a3 = id;
  let o: usize = 0;
  for (; o < vend; o += 64) {
    a0 = vf32(op, a0, v128.load(p + o));
    a1 = vf32(op, a1, v128.load(p + o, 16));
    a2 = vf32(op, a2, v128.load(p + o, 32));
    a3 = vf32(op, a3, v128.load(p + o, 48));
  }
  const s = vf32(op, vf32(op, a0, a1), vf32(op, a2, a3));
  let r = sf32(op,
    sf32(op, f32x4.extract_lane(s, 0), f32x4.extract_lane(s, 1)),
    sf32(op, f32x4.extract_lane(s, 2), f32x4.extract_lane(s, 3)));
  for (; o < bytes; o += 4) r = sf32(op, r, load<f32>(p + o));
  return r;
}
@inline function foldI32(op: i32, p: usize, n: i32): i32 {
  const bytes = <usize>n << 2;
  const vend = bytes & ~(<usize>63);
  const id = i32x4.splat(idI32(op));
  let a0 = id, a1 = id, a2 = id, a3 = id;
  let o: usize = 0;
  for (; o < vend; o += 64) {
    a0 = vi32(op, a0, v128.load(p + o));
    a1 = vi32(op, a1, v128.load(p + o, 16));
    a2 = vi32(op, a2, v128.load(p + o, 32));
    a3 = vi32(op, a3, v128.load(p + o, 48));
  }
  const s = vi32(op, vi32(op, a0, a1), vi32(op, a2, a3));
  let r = si32(op,
    si32(op, i32x4.extract_lane(s, 0), i32x4.extract_lane(s, 1)),
    si32(op, i32x4.extract_lane(s, 2), i32x4.extract_lane(s, 3)));
  for (; o < bytes; o += 4) r = si32(op, r, load<i32>(p + o));
  return r;
}

export function fold_sum_f64(p: usize, n: i32): f64 { return foldF64(OP_SUM, p, n); }
export function fold_prod_f64(p: usize, n: i32): f64 { return foldF64(OP_PROD, p, n); }
export function fold_min_f64(p: usize, n: i32): f64 { return foldF64(OP_MIN, p, n); }
export function fold_max_f64(p: usize, n: i32): f64 { return foldF64(OP_MAX, p, n); }
export function fold_sum_f32(p: usize, n: i32): f32 { return foldF32(OP_SUM, p, n); }
export function fold_prod_f32(p: usize, n: i32): f32 { return foldF32(OP_PROD, p, n); }
export function fold_min_f32(p: usize, n: i32): f32 { return foldF32(OP_MIN, p, n); }
export function fold_max_f32(p: usize, n: i32): f32 { return foldF32(OP_MAX, p, n); }
export function fold_prod_i32(p: usize, n: i32): i32 { return foldI32(OP_PROD, p, n); }
export function fold_min_i32(p: usize, n: i32): i32 { return foldI32(OP_MIN, p, n); }
export function fold_max_i32(p: usize, n: i32): i32 { return foldI32(OP_MAX, p, n); }

// i32 sum is exact: lanes widen to i64, so the result is order-independent; returned as f64
// (one rounding of the exact integer, which Number(bigint) reproduces in JS).
export function fold_sum_i32(p: usize, n: i32): f64 {
  const bytes = <usize>n << 2;
  const vend = bytes & ~(<usize>15);
  let a0 = i64x2.splat(0), a1 = i64x2.splat(0);
  let o: usize = 0;
  for (; o < vend; o += 16) {
    const v = v128.load(p + o);
    a0 = i64x2.add(a0, i64x2.extend_low_i32x4_s(v));
    a1 = i64x2.add(a1, i64x2.extend_high_i32x4_s(v));
  }
  const s = i64x2.add(a0, a1);
  let r: i64 = i64x2.extract_lane(s, 0) + i64x2.extract_lane(s, 1);
  for (; o < bytes; o += 4) r += <i64>load<i32>(p + o);
  return <f64>r;
}

// dot: same order as sum, with each product rounded to the element type before it is added.
export function dot_f64(x: usize, y: usize, n: i32): f64 {
  const bytes = <usize>n << 3;
  const vend = bytes & ~(<usize>63);
  let a0 = f64x2.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let o: usize = 0;
  for (; o < vend; o += 64) {
    a0 = f64x2.add(a0, f64x2.mul(v128.load(x + o), v128.load(y + o)));
    a1 = f64x2.add(a1, f64x2.mul(v128.load(x + o, 16), v128.load(y + o, 16)));
    a2 = f64x2.add(a2, f64x2.mul(v128.load(x + o, 32), v128.load(y + o, 32)));
    a3 = f64x2.add(a3, f64x2.mul(v128.load(x + o, 48), v128.load(y + o, 48)));
  }
  const s = f64x2.add(f64x2.add(a0, a1), f64x2.add(a2, a3));
  let r = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  for (; o < bytes; o += 8) r += load<f64>(x + o) * load<f64>(y + o);
  return r;
}
export function dot_f32(x: usize, y: usize, n: i32): f32 {
  const bytes = <usize>n << 2;
  const vend = bytes & ~(<usize>63);
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let o: usize = 0;
  for (; o < vend; o += 64) {
    a0 = f32x4.add(a0, f32x4.mul(v128.load(x + o), v128.load(y + o)));
    a1 = f32x4.add(a1, f32x4.mul(v128.load(x + o, 16), v128.load(y + o, 16)));
    a2 = f32x4.add(a2, f32x4.mul(v128.load(x + o, 32), v128.load(y + o, 32)));
    a3 = f32x4.add(a3, f32x4.mul(v128.load(x + o, 48), v128.load(y + o, 48)));
  }
  const s = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
  let r = (f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1)) + (f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3));
  for (; o < bytes; o += 4) r += load<f32>(x + o) * load<f32>(y + o);
  return r;
}
