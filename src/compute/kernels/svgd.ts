// SVGD's per-row kernels (src/particles/svgd-kernel.ts has the JS mirror, operation for
// operation): squared distances of rows to all particles, and the RBF-kernel update φ with our
// own exp (Cody–Waite reduction, a degree-13 Taylor polynomial, 2^k from the exponent bits), two
// particles j per f64x2, even j in lane 0 and odd j in lane 1, summed at the end of the row.
// Pointers are byte offsets into the shared memory; `acc` is a scratch of 16·dim bytes.

const LOG2E: f64 = 1.4426950408889634;
const EXP_LN2_HI: f64 = 6.93147180369123816490e-1;
const EXP_LN2_LO: f64 = 1.90821492927058770002e-10;
const EXP_MIN: f64 = -708.0;
const F2: f64 = 0.5;
const F3: f64 = 0.16666666666666666;
const F4: f64 = 0.041666666666666664;
const F5: f64 = 0.0083333333333333332;
const F6: f64 = 0.0013888888888888889;
const F7: f64 = 0.00019841269841269841;
const F8: f64 = 0.000024801587301587302;
const F9: f64 = 0.0000027557319223985893;
const F10: f64 = 2.7557319223985888e-7;
const F11: f64 = 2.505210838544172e-8;
const F12: f64 = 2.08767569878681e-9;
const F13: f64 = 1.6059043836821613e-10;

@inline function polyV(r: v128): v128 {
  let p = f64x2.splat(F13);
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(F12));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(F11));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(F10));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(F9));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(F8));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(F7));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(F6));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(F5));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(F4));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(F3));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(F2));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0));
  return f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0));
}

/** exp(x) for x ≤ 0 in both lanes; 0 below -708. */
@inline function expNegV(x: v128): v128 {
  const lim = f64x2.splat(EXP_MIN);
  const xs = f64x2.max(x, lim);
  const k = f64x2.floor(f64x2.add(f64x2.mul(xs, f64x2.splat(LOG2E)), f64x2.splat(0.5)));
  const r = f64x2.sub(f64x2.sub(xs, f64x2.mul(k, f64x2.splat(EXP_LN2_HI))), f64x2.mul(k, f64x2.splat(EXP_LN2_LO)));
  const ki = i64x2.extend_low_i32x4_s(i32x4.trunc_sat_f64x2_s_zero(k));
  const scale = i64x2.shl(i64x2.add(ki, i64x2.splat(1023)), 52);
  return v128.bitselect(f64x2.splat(0.0), f64x2.mul(polyV(r), scale), f64x2.lt(x, lim));
}

export function svgd_dist(X: usize, D: usize, n: i32, dim: i32, row0: i32, rows: i32): void {
  const d = <usize>dim;
  for (let r = 0; r < rows; r++) {
    const xi = X + ((<usize>(row0 + r) * d) << 3);
    const out = D + ((<usize>r * <usize>n) << 3);
    let j = 0;
    for (; j + 1 < n; j += 2) {
      const a = X + ((<usize>j * d) << 3);
      const b = a + (d << 3);
      let s = f64x2.splat(0.0);
      for (let c: usize = 0; c < d; c++) {
        const v = f64x2.sub(f64x2.splat(load<f64>(xi + (c << 3))), f64x2(load<f64>(a + (c << 3)), load<f64>(b + (c << 3))));
        s = f64x2.add(s, f64x2.mul(v, v));
      }
      v128.store(out + (<usize>j << 3), s);
    }
    if (j < n) {
      const a = X + ((<usize>j * d) << 3);
      let s: f64 = 0;
      for (let c: usize = 0; c < d; c++) {
        const v = load<f64>(xi + (c << 3)) - load<f64>(a + (c << 3));
        s += v * v;
      }
      store<f64>(out + (<usize>j << 3), s);
    }
  }
}

export function svgd_phi(X: usize, G: usize, D: usize, Phi: usize, n: i32, dim: i32, row0: i32, rows: i32, h: f64, acc: usize): void {
  const d = <usize>dim;
  const twoOverH = 2.0 / h;
  const tv = f64x2.splat(twoOverH);
  const hv = f64x2.splat(h);
  for (let r = 0; r < rows; r++) {
    const xi = X + ((<usize>(row0 + r) * d) << 3);
    const drow = D + ((<usize>r * <usize>n) << 3);
    for (let c: usize = 0; c < d; c++) v128.store(acc + (c << 4), f64x2.splat(0.0));
    let j = 0;
    for (; j + 1 < n; j += 2) {
      const kv = expNegV(f64x2.div(f64x2.neg(v128.load(drow + (<usize>j << 3))), hv));
      const xa = X + ((<usize>j * d) << 3);
      const xb = xa + (d << 3);
      const ga = G + ((<usize>j * d) << 3);
      const gb = ga + (d << 3);
      for (let c: usize = 0; c < d; c++) {
        const o = c << 3;
        const g = f64x2(load<f64>(ga + o), load<f64>(gb + o));
        const xj = f64x2(load<f64>(xa + o), load<f64>(xb + o));
        const term = f64x2.mul(kv, f64x2.add(g, f64x2.mul(tv, f64x2.sub(f64x2.splat(load<f64>(xi + o)), xj))));
        v128.store(acc + (c << 4), f64x2.add(v128.load(acc + (c << 4)), term));
      }
    }
    if (j < n) {
      // The last odd particle goes to lane 0 (the even sums), computed as a lane would.
      const k = f64x2.extract_lane(expNegV(f64x2.splat(-load<f64>(drow + (<usize>j << 3)) / h)), 0);
      const xa = X + ((<usize>j * d) << 3);
      const ga = G + ((<usize>j * d) << 3);
      for (let c: usize = 0; c < d; c++) {
        const o = c << 3;
        const e = f64x2.extract_lane(v128.load(acc + (c << 4)), 0) + k * (load<f64>(ga + o) + twoOverH * (load<f64>(xi + o) - load<f64>(xa + o)));
        v128.store(acc + (c << 4), f64x2.replace_lane(v128.load(acc + (c << 4)), 0, e));
      }
    }
    const out = Phi + ((<usize>r * d) << 3);
    for (let c: usize = 0; c < d; c++) {
      const a = v128.load(acc + (c << 4));
      store<f64>(out + (c << 3), (f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1)) / <f64>n);
    }
  }
}
