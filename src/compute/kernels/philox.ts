// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), four
// blocks at a time: lane j of X0..X3 holds word 0..3 of block (counter + j). The 32×32→64-bit
// products come from i64x2.extmul; everything else is i32x4 xor/shuffle. Output is in the
// stream's natural order (block by block, words 0..3), exactly as src/rng/philox.ts produces it
// one block at a time, so the JS fallback is bit-identical.
//
// The normal transform (Box–Muller with fdlibm's log and sin/cos kernels) is scalar f64 code
// that mirrors src/rng/normal.ts operation for operation: both use only +, -, *, /, sqrt on
// doubles (IEEE-exact everywhere), never a library Math.log/sin/cos whose last bits may differ.

const M0: u32 = 0xd2511f53;
const M1: u32 = 0xcd9e8d57;
const W0: u32 = 0x9e3779b9;
const W1: u32 = 0xbb67ae85;

/**
 * Fills `nblocks` (a multiple of 4) Philox blocks of the stream (key k0,k1; counter words 2,3 =
 * s0,s1) starting at block (blo + 2^32·bhi); blo + nblocks must not pass 2^32 (the caller splits).
 * mode 0: raw words (16 bytes per block); 1: f64 uniforms in [0,1) from the top 52 bits of each
 * 64-bit word (16 bytes per block); 2: f32 uniforms from the top 24 bits (8 bytes per block).
 */
export function philox_fill(dst: usize, nblocks: i32, k0: u32, k1: u32, s0: u32, s1: u32, blo: u32, bhi: u32, mode: i32): void {
  const m0 = i32x4.splat(M0);
  const m1 = i32x4.splat(M1);
  const w0 = i32x4.splat(W0);
  const w1 = i32x4.splat(W1);
  const c1 = i32x4.splat(bhi);
  const c2 = i32x4.splat(s0);
  const c3 = i32x4.splat(s1);
  const expOne = i64x2.splat(0x3ff0000000000000);
  const one = f64x2.splat(1.0);
  const f32Scale = f32x4.splat(5.9604644775390625e-8); // 2^-24
  const four = i32x4.splat(4);
  let c0 = i32x4(blo, blo + 1, blo + 2, blo + 3);
  let out = dst;
  for (let b = 0; b < nblocks; b += 4) {
    let x0 = c0, x1 = c1, x2 = c2, x3 = c3;
    let ka = i32x4.splat(k0), kb = i32x4.splat(k1);
    for (let r = 0; r < 10; r++) {
      const p0l = i64x2.extmul_low_i32x4_u(x0, m0);
      const p0h = i64x2.extmul_high_i32x4_u(x0, m0);
      const p1l = i64x2.extmul_low_i32x4_u(x2, m1);
      const p1h = i64x2.extmul_high_i32x4_u(x2, m1);
      const hi0 = i32x4.shuffle(p0l, p0h, 1, 3, 5, 7);
      const hi1 = i32x4.shuffle(p1l, p1h, 1, 3, 5, 7);
      const lo0 = i32x4.mul(x0, m0);
      const lo1 = i32x4.mul(x2, m1);
      x0 = v128.xor(v128.xor(hi1, x1), ka);
      x1 = lo1;
      x2 = v128.xor(v128.xor(hi0, x3), kb);
      x3 = lo0;
      ka = i32x4.add(ka, w0);
      kb = i32x4.add(kb, w1);
    }
    c0 = i32x4.add(c0, four);
    if (mode == 2) {
      // One f32 per 64-bit word, from its high half: block j gives (x1[j], x3[j]).
      const a = i32x4.shuffle(x1, x3, 0, 4, 1, 5);
      const c = i32x4.shuffle(x1, x3, 2, 6, 3, 7);
      v128.store(out, f32x4.mul(f32x4.convert_i32x4_u(i32x4.shr_u(a, 8)), f32Scale));
      v128.store(out, f32x4.mul(f32x4.convert_i32x4_u(i32x4.shr_u(c, 8)), f32Scale), 16);
      out += 32;
      continue;
    }
    // Transpose to one vector per block: [x0, x1, x2, x3] = two 64-bit words, low half first.
    const t0 = i32x4.shuffle(x0, x1, 0, 4, 1, 5);
    const t1 = i32x4.shuffle(x2, x3, 0, 4, 1, 5);
    const t2 = i32x4.shuffle(x0, x1, 2, 6, 3, 7);
    const t3 = i32x4.shuffle(x2, x3, 2, 6, 3, 7);
    let v0 = i64x2.shuffle(t0, t1, 0, 2);
    let v1 = i64x2.shuffle(t0, t1, 1, 3);
    let v2 = i64x2.shuffle(t2, t3, 0, 2);
    let v3 = i64x2.shuffle(t2, t3, 1, 3);
    if (mode == 1) {
      // (word >>> 12) as the mantissa of a double in [1, 2), minus 1: exactly (word >>> 12)·2^-52.
      v0 = f64x2.sub(v128.or(i64x2.shr_u(v0, 12), expOne), one);
      v1 = f64x2.sub(v128.or(i64x2.shr_u(v1, 12), expOne), one);
      v2 = f64x2.sub(v128.or(i64x2.shr_u(v2, 12), expOne), one);
      v3 = f64x2.sub(v128.or(i64x2.shr_u(v3, 12), expOne), one);
    }
    v128.store(out, v0);
    v128.store(out, v1, 16);
    v128.store(out, v2, 32);
    v128.store(out, v3, 48);
    out += 64;
  }
}

// fdlibm e_log.c and k_sin.c / k_cos.c coefficients.
const LN2_HI: f64 = 6.93147180369123816490e-1;
const LN2_LO: f64 = 1.90821492927058770002e-10;
const LG1: f64 = 6.666666666666735130e-1;
const LG2: f64 = 3.999999999940941908e-1;
const LG3: f64 = 2.857142874366239149e-1;
const LG4: f64 = 2.222219843214978396e-1;
const LG5: f64 = 1.818357216161805012e-1;
const LG6: f64 = 1.531383769920937332e-1;
const LG7: f64 = 1.479819860511658591e-1;
const S1: f64 = -1.66666666666666324348e-1;
const S2: f64 = 8.33333333332248946124e-3;
const S3: f64 = -1.98412698298579493134e-4;
const S4: f64 = 2.75573137070700676789e-6;
const S5: f64 = -2.50507602534068634195e-8;
const S6: f64 = 1.58969099521155010221e-10;
const C1: f64 = 4.16666666666666019037e-2;
const C2: f64 = -1.38888888888741095749e-3;
const C3: f64 = 2.48015872894767294178e-5;
const C4: f64 = -2.75573143513906633035e-7;
const C5: f64 = 2.08757232129817482790e-9;
const C6: f64 = -1.13596475577881948265e-11;
const SQRT2: f64 = 1.4142135623730951;
const PIO4: f64 = 0.7853981633974483;

/** ln(u) for u = ((word >>> 12) + 0.5)·2^-52, the word given as its two halves. */
@inline function lnUniform(lo: u32, hi: u32): f64 {
  const k: u64 = (<u64>hi << 20) | <u64>(lo >>> 12);
  const x: f64 = <f64>k + 0.5;
  let e: i32 = k == 0 ? -1 : 63 - <i32>clz(k);
  let m: f64 = x * reinterpret<f64>(<u64>(1023 - e) << 52);
  if (m > SQRT2) {
    m = m * 0.5;
    e = e + 1;
  }
  const f = m - 1.0;
  const s = f / (2.0 + f);
  const z = s * s;
  const w = z * z;
  const t1 = w * (LG2 + w * (LG4 + w * LG6));
  const t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
  const r = t2 + t1;
  const hfsq = 0.5 * f * f;
  const dk = <f64>(e - 52);
  return dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f);
}

@inline function kSin(x: f64): f64 {
  const z = x * x;
  const v = z * x;
  const r = S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)));
  return x + v * (S1 + z * r);
}

@inline function kCos(x: f64): f64 {
  const z = x * x;
  const r = z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6)))));
  const hz = 0.5 * z;
  const w = 1.0 - hz;
  return w + (((1.0 - w) - hz) + z * r);
}

/**
 * Box–Muller in place: each pair of 64-bit words (A, B) at `p` becomes two normals
 * (r·cos θ, r·sin θ)·sd + mean, r = sqrt(-2 ln u(A)), θ = 2π·u(B) taken by octant.
 */
export function normal_f64(p: usize, npairs: i32, mean: f64, sd: f64): void {
  for (let i = 0; i < npairs; i++) {
    const q = p + (<usize>i << 4);
    const alo = load<u32>(q), ahi = load<u32>(q, 4), blo = load<u32>(q, 8), bhi = load<u32>(q, 12);
    const rad = Math.sqrt(-2.0 * lnUniform(alo, ahi));
    const o: u32 = bhi >>> 29;
    const m49: u64 = ((<u64>(bhi & 0x1fffffff)) << 20) | <u64>(blo >>> 12);
    const f = (<f64>m49 + 0.5) * 1.7763568394002505e-15; // 2^-49
    const g = (o & 1) != 0 ? 1.0 - f : f;
    const a = g * PIO4;
    const sa = kSin(a);
    const ca = kCos(a);
    const s1 = (o & 1) != 0 ? -sa : sa;
    const quad = ((o + 1) >> 1) & 3;
    let sn: f64, cs: f64;
    if (quad == 0) { sn = s1; cs = ca; }
    else if (quad == 1) { sn = ca; cs = -s1; }
    else if (quad == 2) { sn = -s1; cs = -ca; }
    else { sn = -ca; cs = s1; }
    store<f64>(q, rad * cs * sd + mean);
    store<f64>(q, rad * sn * sd + mean, 8);
  }
}
