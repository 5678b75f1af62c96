/**
 * Bulk draws: words [pos, pos + n) of a stream into a typed array. Whole groups of four blocks
 * go to the WASM SIMD kernel (in place when the array lives in the compute memory, else through a
 * staging region, 64 KiB at a time); an odd first word, the last few blocks and the blocks next to
 * a 2^32 counter wrap are made in JS. Both paths give the same bits, so where a split falls never
 * shows in the output.
 */
import { normalPair } from "./normal.js";
import { philoxBlock, uniform24, uniform52, type StreamKey } from "./philox.js";
import { rngKernels, STAGE_BYTES, type RngKernels } from "./wasm.js";

/** What a 64-bit word becomes: raw (two u32), an f64 uniform, an f32 uniform. */
export const Mode = { Bits: 0, F64: 1, F32: 2 } as const;
/** One of {@link Mode}'s values. */
export type Mode = (typeof Mode)[keyof typeof Mode];

type Out = Uint32Array | Float64Array | Float32Array;

/** Fills below this many blocks stay in JS: not worth compiling kernels.wasm for (bits are the same). */
const WASM_MIN_BLOCKS = 32;
const TWO32 = 4294967296;

const block = new Uint32Array(4);

/** Word `w` (0 or 1) of the current `block` into out at element index `at`. */
function put(mode: Mode, out: Out, at: number, w: number): void {
  const lo = block[2 * w]!;
  const hi = block[2 * w + 1]!;
  if (mode === Mode.Bits) {
    out[2 * at] = lo;
    out[2 * at + 1] = hi;
  } else if (mode === Mode.F64) out[at] = uniform52(lo, hi);
  else out[at] = uniform24(hi);
}

function jsBlock(key: StreamKey, b: number): void {
  philoxBlock(key, b % TWO32, Math.floor(b / TWO32), block, 0);
}

/** Elements of `out` per word, and bytes. */
function widths(mode: Mode): { per: number; bytes: number } {
  return mode === Mode.Bits ? { per: 2, bytes: 8 } : mode === Mode.F64 ? { per: 1, bytes: 8 } : { per: 1, bytes: 4 };
}

/**
 * Words [pos, pos + n) into `out` from element `start` (for Bits, `start` counts words: two u32
 * each). `pos` is a safe integer.
 */
export function fillWords(key: StreamKey, pos: number, n: number, mode: Mode, out: Out, start: number): void {
  let i = 0;
  if (n > 0 && pos % 2 === 1) {
    jsBlock(key, (pos - 1) / 2);
    put(mode, out, start, 1);
    i = 1;
  }
  let b = (pos + i) / 2;
  let blocks = Math.floor((n - i) / 2);
  const k = blocks >= WASM_MIN_BLOCKS ? rngKernels() : null;
  while (blocks > 0) {
    const lo = b % TWO32;
    let run = Math.min(blocks, TWO32 - lo);
    run -= run % 4;
    if (k && run >= 4) {
      const done = wasmRun(k, key, b, run, mode, out, start + i);
      i += 2 * done;
      b += done;
      blocks -= done;
      continue;
    }
    // Fewer than four blocks left, or next to a counter wrap: one block in JS.
    jsBlock(key, b);
    put(mode, out, start + i, 0);
    put(mode, out, start + i + 1, 1);
    i += 2;
    b += 1;
    blocks -= 1;
  }
  if (i < n) {
    jsBlock(key, b);
    put(mode, out, start + i, 0);
  }
}

/** Up to `run` blocks (a multiple of 4) through the kernel; returns how many were done. */
function wasmRun(k: RngKernels, key: StreamKey, b: number, run: number, mode: Mode, out: Out, at: number): number {
  const { per, bytes } = widths(mode);
  const lo = b % TWO32;
  const hi = Math.floor(b / TWO32);
  if (k.mem.contains(out)) {
    k.fill(out.byteOffset + at * per * out.BYTES_PER_ELEMENT, run, key.k0, key.k1, key.s0, key.s1, lo, hi, mode);
    return run;
  }
  const chunk = Math.min(run, STAGE_BYTES / (2 * bytes));
  const stage = k.stage();
  k.fill(stage, chunk, key.k0, key.k1, key.s0, key.s1, lo, hi, mode);
  const len = 2 * chunk * per;
  const src =
    mode === Mode.Bits ? new Uint32Array(k.mem.buffer, stage, len) : mode === Mode.F64 ? new Float64Array(k.mem.buffer, stage, len) : new Float32Array(k.mem.buffer, stage, len);
  (out as Float64Array).set(src as Float64Array, at * per);
  return chunk;
}

const pairWords = new Uint32Array(4);

/**
 * `npairs` normal pairs from words [pos, pos + 2·npairs) into out[start..]: (z0, z1)·sd + mean
 * each (see normal.ts).
 */
export function fillNormalPairs(key: StreamKey, pos: number, npairs: number, out: Float64Array, start: number, mean: number, sd: number): void {
  const k = npairs >= WASM_MIN_BLOCKS ? rngKernels() : null;
  if (!k) {
    for (let j = 0; j < npairs; j++) {
      fillWords(key, pos + 2 * j, 2, Mode.Bits, pairWords, 0);
      normalPair(pairWords, 0, out, start + 2 * j, mean, sd);
    }
    return;
  }
  // Raw words are as wide as the normals they become: make them in place, then transform.
  if (k.mem.contains(out)) {
    const words = new Uint32Array(out.buffer, out.byteOffset + start * 8, npairs * 4);
    fillWords(key, pos, 2 * npairs, Mode.Bits, words, 0);
    k.normal(words.byteOffset, npairs, mean, sd);
    return;
  }
  const per = STAGE_BYTES / 16;
  const stage = k.stage();
  for (let j = 0; j < npairs; j += per) {
    const m = Math.min(per, npairs - j);
    fillWords(key, pos + 2 * j, 2 * m, Mode.Bits, new Uint32Array(k.mem.buffer, stage, 4 * m), 0);
    k.normal(stage, m, mean, sd);
    out.set(new Float64Array(k.mem.buffer, stage, 2 * m), start + 2 * j);
  }
}
