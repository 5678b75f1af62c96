/**
 * exp(x) for x ≤ 0 with only +, −, ×, floor and an exact table of 2^k: the JS mirror of expNegV in
 * src/compute/kernels/svgd.ts (Cody–Waite reduction by ln 2, a degree-13 Taylor polynomial on
 * |r| ≤ ln2/2, error below 1e-17 before rounding), so the WASM and JS SVGD kernels agree to the
 * bit. 0 below −708 (where exp is below 3e-308 and would need subnormals).
 */
const LOG2E = Math.LOG2E; // 1.4426950408889634
// Constants written as the shortest decimal that parses to the same double as the longer
// literals they replaced (fdlibm's ln 2 split; checked when rewritten: the bits are unchanged).
const LN2_HI = 0.6931471803691238;
const LN2_LO = 1.9082149292705877e-10;
const F2 = 0.5;
const F3 = 0.16666666666666666;
const F4 = 0.041666666666666664;
const F5 = 0.0083333333333333332;
const F6 = 0.0013888888888888889;
const F7 = 0.00019841269841269841;
const F8 = 0.000024801587301587302;
const F9 = 0.0000027557319223985893;
const F10 = 2.755731922398589e-7;
const F11 = 2.505210838544172e-8;
const F12 = 2.08767569878681e-9;
const F13 = 1.6059043836821613e-10;

/** POW2[k + 1022] = 2^k for k in −1022..0, by exact halving. */
const POW2 = (() => {
  const t = new Float64Array(1023);
  t[1022] = 1;
  for (let i = 1021; i >= 0; i--) t[i] = t[i + 1]! * 0.5;
  return t;
})();

/** exp(x) for x ≤ 0 (see the module comment). */
export function expNeg(x: number): number {
  if (x < -708) return 0;
  const k = Math.floor(x * LOG2E + 0.5);
  const r = x - k * LN2_HI - k * LN2_LO;
  const p = ((((((((((((F13 * r + F12) * r + F11) * r + F10) * r + F9) * r + F8) * r + F7) * r + F6) * r + F5) * r + F4) * r + F3) * r + F2) * r + 1) * r + 1;
  return p * POW2[k + 1022]!;
}
