/**
 * Normal variates from pairs of 64-bit words by Box–Muller, with our own log and sin/cos
 * (fdlibm's e_log.c and k_sin.c/k_cos.c kernels): only +, -, *, / and sqrt on doubles, which are
 * IEEE-exact in JS and in WASM, so the WASM kernel (src/compute/kernels/philox.ts, the same
 * operations in the same order) gives the same bits, and so does every Node version and CPU.
 * `Math.log`/`Math.sin` are "implementation-approximated" by the ECMAScript spec: V8 has changed
 * such functions' last bits before, which would silently change every stream's normals.
 */

// fdlibm's constants, each written as the shortest decimal that parses to the same double as
// fdlibm's 20-digit literal (checked when rewritten: the bits are unchanged).
const LN2_HI = 0.6931471803691238;
const LN2_LO = 1.9082149292705877e-10;
const LG1 = 0.6666666666666735;
const LG2 = 0.3999999999940942;
const LG3 = 0.2857142874366239;
const LG4 = 0.22222198432149784;
const LG5 = 0.1818357216161805;
const LG6 = 0.15313837699209373;
const LG7 = 0.14798198605116586;
const S1 = -0.16666666666666632;
const S2 = 0.00833333333332249;
const S3 = -0.0001984126982985795;
const S4 = 0.0000027557313707070068;
const S5 = -2.5050760253406863e-8;
const S6 = 1.58969099521155e-10;
const C1 = 0.0416666666666666;
const C2 = -0.001388888888887411;
const C3 = 0.00002480158728947673;
const C4 = -2.7557314351390663e-7;
const C5 = 2.087572321298175e-9;
const C6 = -1.1359647557788195e-11;
const SQRT2 = Math.SQRT2; // 1.4142135623730951
const PIO4 = 0.7853981633974483;
const TWO_M49 = 1.7763568394002505e-15;

/** POW2NEG[e + 1] = 2^-e for e in -1..51 (exact). */
const POW2NEG = Float64Array.from({ length: 53 }, (_, i) => 2 ** -(i - 1));

/**
 * ln(u) for u = ((word >>> 12) + 0.5)·2^-52 ∈ (0, 1), the word as its halves: the exponent comes
 * from the integer's leading bit, so no float bit-casting is needed.
 */
export function lnUniform(lo: number, hi: number): number {
  const kHi = hi >>> 12;
  const kLo = ((hi << 20) | (lo >>> 12)) >>> 0;
  const x = hi * 1048576 + (lo >>> 12) + 0.5;
  let e = kHi !== 0 ? 63 - Math.clz32(kHi) : kLo !== 0 ? 31 - Math.clz32(kLo) : -1;
  let m = x * POW2NEG[e + 1]!;
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
  const dk = e - 52;
  return dk * LN2_HI - (hfsq - (s * (hfsq + r) + dk * LN2_LO) - f);
}

/** sin(x) for |x| ≤ π/4 (fdlibm __kernel_sin with y = 0). */
export function kSin(x: number): number {
  const z = x * x;
  const v = z * x;
  const r = S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)));
  return x + v * (S1 + z * r);
}

/** cos(x) for |x| ≤ π/4 (fdlibm __kernel_cos with y = 0). */
export function kCos(x: number): number {
  const z = x * x;
  const r = z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6)))));
  const hz = 0.5 * z;
  const w = 1.0 - hz;
  return w + (1.0 - w - hz + z * r);
}

/**
 * Box–Muller on words at w[i..i+3] (A = w[i], w[i+1]; B = w[i+2], w[i+3]) into out[j], out[j+1]:
 * (r·cos θ, r·sin θ)·sd + mean with r = sqrt(-2 ln u(A)) and θ = 2π·u(B), u(B) split into its
 * octant (top 3 bits) and a 49-bit fraction so that sin/cos only ever see [0, π/4].
 */
export function normalPair(w: Uint32Array, i: number, out: { [k: number]: number }, j: number, mean: number, sd: number): void {
  const rad = Math.sqrt(-2.0 * lnUniform(w[i]!, w[i + 1]!));
  const blo = w[i + 2]!;
  const bhi = w[i + 3]!;
  const o = bhi >>> 29;
  const f = ((bhi & 0x1fffffff) * 1048576 + (blo >>> 12) + 0.5) * TWO_M49;
  const odd = (o & 1) !== 0;
  const a = (odd ? 1.0 - f : f) * PIO4;
  const sa = kSin(a);
  const ca = kCos(a);
  const s1 = odd ? -sa : sa;
  const quad = ((o + 1) >> 1) & 3;
  let sn: number, cs: number;
  if (quad === 0) {
    sn = s1;
    cs = ca;
  } else if (quad === 1) {
    sn = ca;
    cs = -s1;
  } else if (quad === 2) {
    sn = -s1;
    cs = -ca;
  } else {
    sn = -ca;
    cs = s1;
  }
  out[j] = rad * cs * sd + mean;
  out[j + 1] = rad * sn * sd + mean;
}
