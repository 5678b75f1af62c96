/**
 * Philox4x32-10 in plain JS (Salmon et al., SC'11; Random123's known-answer vectors are in the
 * tests): the reference for the WASM SIMD kernel (src/compute/kernels/philox.ts) and the path for
 * single draws and for runtimes without WASM SIMD. A block is a pure function of (key, counter),
 * so any part of a stream can be made anywhere, in any order.
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of a·m for 32-bit unsigned a and m, exactly (16-bit split; every step < 2^53). */
function mulhi(a: number, m: number): number {
  const p = (a & 0xffff) * m;
  const q = (a >>> 16) * m;
  return Math.floor((q + Math.floor(p / 65536)) / 65536) >>> 0;
}

/** The stream's identity: Philox key (k0, k1) and the fixed upper counter words (s0, s1). */
export interface StreamKey {
  readonly k0: number;
  readonly k1: number;
  readonly s0: number;
  readonly s1: number;
}

/**
 * Block number (blo + 2^32·bhi) of the stream into out[off..off+3]: Philox4x32-10 of counter
 * [blo, bhi, s0, s1] under key [k0, k1].
 */
export function philoxBlock(key: StreamKey, blo: number, bhi: number, out: Uint32Array, off: number): void {
  let x0 = blo >>> 0,
    x1 = bhi >>> 0,
    x2 = key.s0,
    x3 = key.s1;
  let ka = key.k0,
    kb = key.k1;
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(x0, M0);
    const lo0 = Math.imul(x0, M0) >>> 0;
    const hi1 = mulhi(x2, M1);
    const lo1 = Math.imul(x2, M1) >>> 0;
    x0 = (hi1 ^ x1 ^ ka) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ kb) >>> 0;
    x3 = lo0;
    ka = (ka + W0) >>> 0;
    kb = (kb + W1) >>> 0;
  }
  out[off] = x0;
  out[off + 1] = x1;
  out[off + 2] = x2;
  out[off + 3] = x3;
}

/** Raw Philox4x32-10 of one counter and key (for the known-answer tests). */
export function philox4x32(ctr: readonly [number, number, number, number], key: readonly [number, number]): [number, number, number, number] {
  const out = new Uint32Array(4);
  philoxBlock({ k0: key[0] >>> 0, k1: key[1] >>> 0, s0: ctr[2] >>> 0, s1: ctr[3] >>> 0 }, ctr[0], ctr[1], out, 0);
  return [out[0]!, out[1]!, out[2]!, out[3]!];
}

/** 2^-52 and 2^-24: the spacing of f64 and f32 uniforms. */
const TWO_M52 = 2.220446049250313e-16;
const TWO_M24 = 5.9604644775390625e-8;

/** The f64 uniform of one 64-bit word (lo, hi): its top 52 bits times 2^-52, in [0, 1). */
export function uniform52(lo: number, hi: number): number {
  return (hi * 1048576 + (lo >>> 12)) * TWO_M52;
}

/** The f32 uniform of one 64-bit word: the top 24 bits of its high half times 2^-24. */
export function uniform24(hi: number): number {
  return (hi >>> 8) * TWO_M24;
}
