// GEMM: C = alpha·A·B + beta·C, row-major, any m, n, k, with leading dimensions (in elements).
//
// GotoBLAS-style blocking: for each NC-wide column block and KC-deep slice of k, B is packed into
// NR-wide panels (L2/L3-resident); for each MC-tall row block A is packed into MR-tall panels;
// an MR×NR register micro-kernel (8 v128 accumulators) then runs over the packed panels, which
// are read strictly sequentially. Panels are zero-padded to MR/NR, so edge tiles use the same
// micro-kernel and write back through a small tile buffer with scalar code that rounds exactly
// like the vector write-back.
//
// Per element the arithmetic is: for each KC slice in order, acc = Σ_p round(a·b) summed in p
// order from 0, then c = round(alpha·acc) (+ round(beta'·c) unless beta' == 0), where beta' is
// beta for the first slice and 1 afterwards. That sequence depends only on k and KC, never on
// m/n blocking or on which rows a worker owns, so row-split parallel runs are bit-identical to a
// single-thread run, and the JS fallback replays it exactly.
//
// `work` must point at gemm_workspace_f32()/gemm_workspace_f64() bytes owned by the caller.

// ---- f32: 4×8 micro-kernel ------------------------------------------------------------------
const MR: i32 = 4;
const NR32: i32 = 8;
const KC32: i32 = 256;
const MC32: i32 = 128;
const NC32: i32 = 1024;

export function gemm_kc_f32(): i32 { return KC32; }
export function gemm_workspace_f32(): i32 { return (MC32 * KC32 + KC32 * NC32 + MR * NR32) * 4; }

function packB_f32(kc: i32, nc: i32, b: usize, ldb: i32, bp: usize): void {
  const rs = <usize>ldb << 2;
  for (let jr = 0; jr < nc; jr += NR32) {
    const w = min(NR32, nc - jr);
    let dst = bp + (<usize>jr * <usize>kc << 2);
    let src = b + (<usize>jr << 2);
    if (w == NR32) {
      for (let p = 0; p < kc; p++) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        dst += 32; src += rs;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let j = 0; j < NR32; j++) store<f32>(dst + (<usize>j << 2), j < w ? load<f32>(src + (<usize>j << 2)) : 0);
        dst += 32; src += rs;
      }
    }
  }
}

function packA_f32(mc: i32, kc: i32, a: usize, lda: i32, ap: usize): void {
  const rs = <usize>lda << 2;
  for (let ir = 0; ir < mc; ir += MR) {
    const h = min(MR, mc - ir);
    let dst = ap + (<usize>ir * <usize>kc << 2);
    const r0 = a + <usize>ir * rs;
    if (h == MR) {
      const r1 = r0 + rs, r2 = r1 + rs, r3 = r2 + rs;
      let p = 0;
      // 4×4 blocks transposed in registers: four row loads become four column stores.
      for (; p + 4 <= kc; p += 4) {
        const o = <usize>p << 2;
        const x0 = v128.load(r0 + o), x1 = v128.load(r1 + o), x2 = v128.load(r2 + o), x3 = v128.load(r3 + o);
        const t0 = v128.shuffle<i32>(x0, x1, 0, 4, 1, 5), t1 = v128.shuffle<i32>(x0, x1, 2, 6, 3, 7);
        const t2 = v128.shuffle<i32>(x2, x3, 0, 4, 1, 5), t3 = v128.shuffle<i32>(x2, x3, 2, 6, 3, 7);
        v128.store(dst, v128.shuffle<i64>(t0, t2, 0, 2));
        v128.store(dst, v128.shuffle<i64>(t0, t2, 1, 3), 16);
        v128.store(dst, v128.shuffle<i64>(t1, t3, 0, 2), 32);
        v128.store(dst, v128.shuffle<i64>(t1, t3, 1, 3), 48);
        dst += 64;
      }
      for (; p < kc; p++) {
        const o = <usize>p << 2;
        store<f32>(dst, load<f32>(r0 + o));
        store<f32>(dst, load<f32>(r1 + o), 4);
        store<f32>(dst, load<f32>(r2 + o), 8);
        store<f32>(dst, load<f32>(r3 + o), 12);
        dst += 16;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let r = 0; r < MR; r++) {
          store<f32>(dst + (<usize>r << 2), r < h ? load<f32>(r0 + <usize>r * rs + (<usize>p << 2)) : 0);
        }
        dst += 16;
      }
    }
  }
}

// raw: store the bare accumulators to c (a tile buffer with ldc = NR) for edge write-back.
function kernel_f32(kc: i32, pa: usize, pb: usize, alpha: f32, beta: f32, c: usize, ldc: i32, raw: bool): void {
  let x00 = f32x4.splat(0), x01 = x00, x10 = x00, x11 = x00, x20 = x00, x21 = x00, x30 = x00, x31 = x00;
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let s = v128.load32_splat(pa);
    x00 = f32x4.add(x00, f32x4.mul(s, b0)); x01 = f32x4.add(x01, f32x4.mul(s, b1));
    s = v128.load32_splat(pa, 4);
    x10 = f32x4.add(x10, f32x4.mul(s, b0)); x11 = f32x4.add(x11, f32x4.mul(s, b1));
    s = v128.load32_splat(pa, 8);
    x20 = f32x4.add(x20, f32x4.mul(s, b0)); x21 = f32x4.add(x21, f32x4.mul(s, b1));
    s = v128.load32_splat(pa, 12);
    x30 = f32x4.add(x30, f32x4.mul(s, b0)); x31 = f32x4.add(x31, f32x4.mul(s, b1));
    pa += 16; pb += 32;
  }
  const rs = <usize>ldc << 2;
  const c0 = c, c1 = c0 + rs, c2 = c1 + rs, c3 = c2 + rs;
  if (raw) {
    v128.store(c0, x00); v128.store(c0, x01, 16); v128.store(c1, x10); v128.store(c1, x11, 16);
    v128.store(c2, x20); v128.store(c2, x21, 16); v128.store(c3, x30); v128.store(c3, x31, 16);
    return;
  }
  const va = f32x4.splat(alpha);
  if (beta == 0) {
    v128.store(c0, f32x4.mul(va, x00)); v128.store(c0, f32x4.mul(va, x01), 16);
    v128.store(c1, f32x4.mul(va, x10)); v128.store(c1, f32x4.mul(va, x11), 16);
    v128.store(c2, f32x4.mul(va, x20)); v128.store(c2, f32x4.mul(va, x21), 16);
    v128.store(c3, f32x4.mul(va, x30)); v128.store(c3, f32x4.mul(va, x31), 16);
  } else {
    const vb = f32x4.splat(beta);
    v128.store(c0, f32x4.add(f32x4.mul(va, x00), f32x4.mul(vb, v128.load(c0))));
    v128.store(c0, f32x4.add(f32x4.mul(va, x01), f32x4.mul(vb, v128.load(c0, 16))), 16);
    v128.store(c1, f32x4.add(f32x4.mul(va, x10), f32x4.mul(vb, v128.load(c1))));
    v128.store(c1, f32x4.add(f32x4.mul(va, x11), f32x4.mul(vb, v128.load(c1, 16))), 16);
    v128.store(c2, f32x4.add(f32x4.mul(va, x20), f32x4.mul(vb, v128.load(c2))));
    v128.store(c2, f32x4.add(f32x4.mul(va, x21), f32x4.mul(vb, v128.load(c2, 16))), 16);
    v128.store(c3, f32x4.add(f32x4.mul(va, x30), f32x4.mul(vb, v128.load(c3))));
    v128.store(c3, f32x4.add(f32x4.mul(va, x31), f32x4.mul(vb, v128.load(c3, 16))), 16);
  }
}

export function gemm_f32(m: i32, n: i32, k: i32, alpha: f32, a: usize, lda: i32, b: usize, ldb: i32,
                         beta: f32, c: usize, ldc: i32, work: usize): void {
  if (m <= 0 || n <= 0) return;
  const crs = <usize>ldc << 2;
  if (k <= 0) {
    for (let i = 0; i < m; i++) {
      const row = c + <usize>i * crs;
      for (let j = 0; j < n; j++) {
        const q = row + (<usize>j << 2);
        store<f32>(q, beta == 0 ? 0 : beta * load<f32>(q));
      }
    }
    return;
  }
  const ap = work;
  const bp = ap + (<usize>(MC32 * KC32) << 2);
  const tile = bp + (<usize>(KC32 * NC32) << 2);
  for (let jc = 0; jc < n; jc += NC32) {
    const nc = min(NC32, n - jc);
    for (let pc = 0; pc < k; pc += KC32) {
      const kc = min(KC32, k - pc);
      packB_f32(kc, nc, b + ((<usize>pc * <usize>ldb + <usize>jc) << 2), ldb, bp);
      const be: f32 = pc == 0 ? beta : 1;
      for (let ic = 0; ic < m; ic += MC32) {
        const mc = min(MC32, m - ic);
        packA_f32(mc, kc, a + ((<usize>ic * <usize>lda + <usize>pc) << 2), lda, ap);
        for (let jr = 0; jr < nc; jr += NR32) {
          const w = min(NR32, nc - jr);
          const pb = bp + (<usize>jr * <usize>kc << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const h = min(MR, mc - ir);
            const pa = ap + (<usize>ir * <usize>kc << 2);
            const cp = c + <usize>(ic + ir) * crs + (<usize>(jc + jr) << 2);
            if (h == MR && w == NR32) {
              kernel_f32(kc, pa, pb, alpha, be, cp, ldc, false);
            } else {
              kernel_f32(kc, pa, pb, alpha, be, tile, NR32, true);
              for (let r = 0; r < h; r++) {
                for (let j = 0; j < w; j++) {
                  const q = cp + <usize>r * crs + (<usize>j << 2);
                  const v = alpha * load<f32>(tile + (<usize>(r * NR32 + j) << 2));
                  store<f32>(q, be == 0 ? v : v + be * load<f32>(q));
                }
              }
            }
          }
        }
      }
    }
  }
}

// ---- f64: 4×4 micro-kernel ------------------------------------------------------------------
const NR64: i32 = 4;
const KC64: i32 = 256;
const MC64: i32 = 64;
const NC64: i32 = 512;

export function gemm_kc_f64(): i32 { return KC64; }
export function gemm_workspace_f64(): i32 { return (MC64 * KC64 + KC64 * NC64 + MR * NR64) * 8; }

function packB_f64(kc: i32, nc: i32, b: usize, ldb: i32, bp: usize): void {
  const rs = <usize>ldb << 3;
  for (let jr = 0; jr < nc; jr += NR64) {
    const w = min(NR64, nc - jr);
    let dst = bp + (<usize>jr * <usize>kc << 3);
    let src = b + (<usize>jr << 3);
    if (w == NR64) {
      for (let p = 0; p < kc; p++) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        dst += 32; src += rs;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let j = 0; j < NR64; j++) store<f64>(dst + (<usize>j << 3), j < w ? load<f64>(src + (<usize>j << 3)) : 0);
        dst += 32; src += rs;
      }
    }
  }
}

function packA_f64(mc: i32, kc: i32, a: usize, lda: i32, ap: usize): void {
  const rs = <usize>lda << 3;
  for (let ir = 0; ir < mc; ir += MR) {
    const h = min(MR, mc - ir);
    let dst = ap + (<usize>ir * <usize>kc << 3);
    const r0 = a + <usize>ir * rs;
    if (h == MR) {
      const r1 = r0 + rs, r2 = r1 + rs, r3 = r2 + rs;
      let p = 0;
      // 2×2 blocks transposed in registers (pairs of rows, pairs of columns).
      for (; p + 2 <= kc; p += 2) {
        const o = <usize>p << 3;
        const x0 = v128.load(r0 + o), x1 = v128.load(r1 + o), x2 = v128.load(r2 + o), x3 = v128.load(r3 + o);
        v128.store(dst, v128.shuffle<i64>(x0, x1, 0, 2));
        v128.store(dst, v128.shuffle<i64>(x2, x3, 0, 2), 16);
        v128.store(dst, v128.shuffle<i64>(x0, x1, 1, 3), 32);
        v128.store(dst, v128.shuffle<i64>(x2, x3, 1, 3), 48);
        dst += 64;
      }
      for (; p < kc; p++) {
        const o = <usize>p << 3;
        store<f64>(dst, load<f64>(r0 + o));
        store<f64>(dst, load<f64>(r1 + o), 8);
        store<f64>(dst, load<f64>(r2 + o), 16);
        store<f64>(dst, load<f64>(r3 + o), 24);
        dst += 32;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let r = 0; r < MR; r++) {
          store<f64>(dst + (<usize>r << 3), r < h ? load<f64>(r0 + <usize>r * rs + (<usize>p << 3)) : 0);
        }
        dst += 32;
      }
    }
  }
}

function kernel_f64(kc: i32, pa: usize, pb: usize, alpha: f64, beta: f64, c: usize, ldc: i32, raw: bool): void {
  let x00 = f64x2.splat(0), x01 = x00, x10 = x00, x11 = x00, x20 = x00, x21 = x00, x30 = x00, x31 = x00;
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let s = v128.load64_splat(pa);
    x00 = f64x2.add(x00, f64x2.mul(s, b0)); x01 = f64x2.add(x01, f64x2.mul(s, b1));
    s = v128.load64_splat(pa, 8);
    x10 = f64x2.add(x10, f64x2.mul(s, b0)); x11 = f64x2.add(x11, f64x2.mul(s, b1));
    s = v128.load64_splat(pa, 16);
    x20 = f64x2.add(x20, f64x2.mul(s, b0)); x21 = f64x2.add(x21, f64x2.mul(s, b1));
    s = v128.load64_splat(pa, 24);
    x30 = f64x2.add(x30, f64x2.mul(s, b0)); x31 = f64x2.add(x31, f64x2.mul(s, b1));
    pa += 32; pb += 32;
  }
  const rs = <usize>ldc << 3;
  const c0 = c, c1 = c0 + rs, c2 = c1 + rs, c3 = c2 + rs;
  if (raw) {
    v128.store(c0, x00); v128.store(c0, x01, 16); v128.store(c1, x10); v128.store(c1, x11, 16);
    v128.store(c2, x20); v128.store(c2, x21, 16); v128.store(c3, x30); v128.store(c3, x31, 16);
    return;
  }
  const va = f64x2.splat(alpha);
  if (beta == 0) {
    v128.store(c0, f64x2.mul(va, x00)); v128.store(c0, f64x2.mul(va, x01), 16);
    v128.store(c1, f64x2.mul(va, x10)); v128.store(c1, f64x2.mul(va, x11), 16);
    v128.store(c2, f64x2.mul(va, x20)); v128.store(c2, f64x2.mul(va, x21), 16);
    v128.store(c3, f64x2.mul(va, x30)); v128.store(c3, f64x2.mul(va, x31), 16);
  } else {
    const vb = f64x2.splat(beta);
    v128.store(c0, f64x2.add(f64x2.mul(va, x00), f64x2.mul(vb, v128.load(c0))));
    v128.store(c0, f64x2.add(f64x2.mul(va, x01), f64x2.mul(vb, v128.load(c0, 16))), 16);
    v128.store(c1, f64x2.add(f64x2.mul(va, x10), f64x2.mul(vb, v128.load(c1))));
    v128.store(c1, f64x2.add(f64x2.mul(va, x11), f64x2.mul(vb, v128.load(c1, 16))), 16);
    v128.store(c2, f64x2.add(f64x2.mul(va, x20), f64x2.mul(vb, v128.load(c2))));
    v128.store(c2, f64x2.add(f64x2.mul(va, x21), f64x2.mul(vb, v128.load(c2, 16))), 16);
    v128.store(c3, f64x2.add(f64x2.mul(va, x30), f64x2.mul(vb, v128.load(c3))));
    v128.store(c3, f64x2.add(f64x2.mul(va, x31), f64x2.mul(vb, v128.load(c3, 16))), 16);
  }
}

export function gemm_f64(m: i32, n: i32, k: i32, alpha: f64, a: usize, lda: i32, b: usize, ldb: i32,
                         beta: f64, c: usize, ldc: i32, work: usize): void {
  if (m <= 0 || n <= 0) return;
  const crs = <usize>ldc << 3;
  if (k <= 0) {
    for (let i = 0; i < m; i++) {
      const row = c + <usize>i * crs;
      for (let j = 0; j < n; j++) {
        const q = row + (<usize>j << 3);
        store<f64>(q, beta == 0 ? 0 : beta * load<f64>(q));
      }
    }
    return;
  }
  const ap = work;
  const bp = ap + (<usize>(MC64 * KC64) << 3);
  const tile = bp + (<usize>(KC64 * NC64) << 3);
  for (let jc = 0; jc < n; jc += NC64) {
    const nc = min(NC64, n - jc);
    for (let pc = 0; pc < k; pc += KC64) {
      const kc = min(KC64, k - pc);
      packB_f64(kc, nc, b + ((<usize>pc * <usize>ldb + <usize>jc) << 3), ldb, bp);
      const be: f64 = pc == 0 ? beta : 1;
      for (let ic = 0; ic < m; ic += MC64) {
        const mc = min(MC64, m - ic);
        packA_f64(mc, kc, a + ((<usize>ic * <usize>lda + <usize>pc) << 3), lda, ap);
        for (let jr = 0; jr < nc; jr += NR64) {
          const w = min(NR64, nc - jr);
          const pb = bp + (<usize>jr * <usize>kc << 3);
          for (let ir = 0; ir < mc; ir += MR) {
            const h = min(MR, mc - ir);
            const pa = ap + (<usize>ir * <usize>kc << 3);
            const cp = c + <usize>(ic + ir) * crs + (<usize>(jc + jr) << 3);
            if (h == MR && w == NR64) {
              kernel_f64(kc, pa, pb, alpha, be, cp, ldc, false);
            } else {
              kernel_f64(kc, pa, pb, alpha, be, tile, NR64, true);
              for (let r = 0; r < h; r++) {
                for (let j = 0; j < w; j++) {
                  const q = cp + <usize>r * crs + (<usize>j << 3);
                  const v = alpha * load<f64>(tile + (<usize>(r * NR64 + j) << 3));
                  store<f64>(q, be == 0 ? v : v + be * load<f64>(q));
                }
              }
            }
          }
        }
      }
    }
  }
}
