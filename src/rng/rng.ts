/**
 * `Rng`: a reproducible random stream. Counter-based (Philox4x32-10): the stream is a pure
 * function of (seed, key path) and a position, never of the rank, the rank count, the pool size or
 * the order in which work runs, so `world.rng("state", s, "walker", w)` draws the same numbers
 * whichever rank or worker thread holds it. Every draw consumes whole 64-bit words of the stream
 * (a uniform or an integer attempt: one; a pair of normals: two), and bulk fills consume exactly
 * what the same number of single draws would, so `fillUniform(a); fillUniform(b)` equals one fill
 * of both and equals a loop of `uniform()`.
 *
 * ```ts
 * const rng = world.rng("state", 3, "walker", 7);  // the same stream on every rank
 * const x = rng.normal();                            // one draw
 * const u = rng.fillUniform(new Float64Array(1e6));  // bulk, WASM SIMD (≥ 100 M/s)
 * const child = rng.fork("step", 12);                // = world.rng("state", 3, "walker", 7, "step", 12)
 * ```
 */
import { UsageError } from "../errors.js";
import { fillNormalPairs, fillWords, Mode } from "./fill.js";
import { childKey, checkKey, rootKey, type RngKey, type RngSeed } from "./key.js";
import { normalPair } from "./normal.js";
import { philoxBlock, uniform52, type StreamKey } from "./philox.js";

/** A stream's state, as plain numbers (structured-clone and msgpack safe): continue it with {@link Rng.fromState}. */
export interface RngState {
  /** Philox key and stream words (k0, k1, s0, s1). */
  key: [number, number, number, number];
  /** Position in 64-bit words. */
  position: number;
  /** The second normal of the last pair drawn by `normal()`, not handed out yet. */
  spare: number | null;
}

const TWO32 = 4294967296;
const TWO53 = 9007199254740992;

function checkPath(path: readonly RngKey[], first: number): void {
  for (const [i, x] of path.entries()) checkKey(x, `rng key element ${first + i}`);
}

function checkFinite(name: string, v: number, op: string): void {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new UsageError(`${name} must be a finite number, got ${String(v)}`, { op });
}

/** A reproducible random stream; make one with `world.rng(...key)` or {@link createRng}. */
export class Rng {
  /** Key path below the seed (for messages; the stream itself is fixed by its key words). */
  readonly path: readonly RngKey[];
  #key: StreamKey;
  #pos = 0;
  #spare: number | null = null;
  readonly #block = new Uint32Array(4);
  #blockNo = -1;

  /** @internal use {@link createRng}, `world.rng()`, {@link fork} or {@link fromState} */
  constructor(key: StreamKey, path: readonly RngKey[]) {
    this.#key = key;
    this.path = path;
  }

  /** The stream of `seed` along `path`. */
  static create(seed: RngSeed, ...path: RngKey[]): Rng {
    return new Rng(childKey(rootKey(seed), path), Object.freeze([...path]));
  }

  /** Continues a stream saved with {@link state} (in another thread, process or run). */
  static fromState(state: RngState): Rng {
    const k = state?.key;
    if (!Array.isArray(k) || k.length !== 4 || !k.every((w) => Number.isInteger(w) && w >= 0 && w < TWO32))
      throw new UsageError("rng state: key must be four 32-bit unsigned integers", { op: "rng.fromState" });
    if (!Number.isSafeInteger(state.position) || state.position < 0)
      throw new UsageError(`rng state: position must be a non-negative safe integer, got ${state.position}`, { op: "rng.fromState" });
    if (state.spare !== null && typeof state.spare !== "number") throw new UsageError("rng state: spare must be a number or null", { op: "rng.fromState" });
    const r = new Rng({ k0: k[0], k1: k[1], s0: k[2], s1: k[3] }, []);
    r.#pos = state.position;
    r.#spare = state.spare;
    return r;
  }

  /** Position in the stream, in 64-bit words. */
  get position(): number {
    return this.#pos;
  }

  /** Everything needed to continue this stream elsewhere (plain numbers). */
  state(): RngState {
    const k = this.#key;
    return { key: [k.k0, k.k1, k.s0, k.s1], position: this.#pos, spare: this.#spare };
  }

  /** An independent copy at the same position (drawing from one does not move the other). */
  clone(): Rng {
    return Rng.fromState(this.state());
  }

  /**
   * The child stream along `key` (at position 0, whatever this stream's position):
   * `rng.fork("a").fork(1)` is `rng.fork("a", 1)`, and `world.rng("x").fork("y")` is `world.rng("x", "y")`.
   */
  fork(...key: RngKey[]): Rng {
    if (key.length === 0) throw new UsageError("fork needs at least one key element", { op: "rng.fork" });
    checkPath(key, this.path.length);
    return new Rng(childKey(this.#key, key, this.path.length), Object.freeze([...this.path, ...key]));
  }

  /** `n` independent child streams: `fork(0)`, …, `fork(n - 1)`. */
  split(n: number): Rng[] {
    if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`split needs a non-negative integer count, got ${n}`, { op: "rng.split" });
    return Array.from({ length: n }, (_, i) => this.fork(i));
  }

  /** Moves `words` 64-bit words ahead (what `words` uniforms would consume). */
  skip(words: number): this {
    if (!Number.isSafeInteger(words) || words < 0 || this.#pos + words > Number.MAX_SAFE_INTEGER)
      throw new UsageError(`skip needs a non-negative integer, got ${words}`, { op: "rng.skip" });
    this.#pos += words;
    return this;
  }

  // ---- single draws -------------------------------------------------------------------------

  /** The next 64-bit word as [low, high] halves. */
  #word(): [number, number] {
    const p = this.#pos++;
    const b = Math.floor(p / 2);
    if (b !== this.#blockNo) {
      philoxBlock(this.#key, b % TWO32, Math.floor(b / TWO32), this.#block, 0);
      this.#blockNo = b;
    }
    const w = (p % 2) * 2;
    return [this.#block[w]!, this.#block[w + 1]!];
  }

  /** A uniform in [lo, hi) (default [0, 1)), from the top 52 bits of one word: `lo + (hi - lo)·u`. */
  uniform(lo = 0, hi = 1): number {
    const [a, b] = this.#word();
    const u = uniform52(a, b);
    if (lo === 0 && hi === 1) return u;
    checkFinite("lo", lo, "rng.uniform");
    checkFinite("hi", hi, "rng.uniform");
    return lo + (hi - lo) * u;
  }

  /**
   * A normal variate (Box–Muller: one pair of words gives two; the second is kept for the next call).
   * `mean + sd·z`.
   */
  normal(mean = 0, sd = 1): number {
    checkFinite("mean", mean, "rng.normal");
    checkFinite("sd", sd, "rng.normal");
    let z: number;
    if (this.#spare !== null) {
      z = this.#spare;
      this.#spare = null;
    } else {
      const pair = this.#pair();
      z = pair[0]!;
      this.#spare = pair[1]!;
    }
    return z * sd + mean;
  }

  /** The next two words as a standard normal pair. */
  #pair(): Float64Array {
    const words = new Uint32Array(4);
    [words[0], words[1]] = this.#word();
    [words[2], words[3]] = this.#word();
    const out = new Float64Array(2);
    normalPair(words, 0, out, 0, 0, 1);
    return out;
  }

  /**
   * A uniform integer in [0, n) for 1 ≤ n ≤ 2^53 − 1, exactly uniform: the top 53 bits of a word,
   * rejected (and the next word taken) in the top `2^53 mod n` values.
   */
  int(n: number): number {
    if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`int(n) needs a positive safe integer n, got ${n}`, { op: "rng.int" });
    return this.#int(n, TWO53 - (TWO53 % n));
  }

  #int(n: number, limit: number): number {
    for (;;) {
      const [lo, hi] = this.#word();
      const k = (hi >>> 11) * TWO32 + lo;
      if (k < limit) return k % n;
    }
  }

  /** Shuffles `items` in place (Fisher–Yates, one `int` per position from the end) and returns it. */
  shuffle<T>(items: T[]): T[] {
    if (!Array.isArray(items)) throw new UsageError("shuffle needs an array", { op: "rng.shuffle" });
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.#int(i + 1, TWO53 - (TWO53 % (i + 1)));
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }

  /** A random permutation of 0..n-1 (`shuffle` of the identity). */
  permutation(n: number): number[] {
    if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`permutation needs a non-negative integer, got ${n}`, { op: "rng.permutation" });
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  // ---- bulk draws ---------------------------------------------------------------------------

  /**
   * Fills `out` with uniforms in [lo, hi) (default [0, 1)): the same values as `out.length` calls
   * of {@link uniform} (for a Float32Array: the top 24 bits of each word, times 2^-24). WASM SIMD
   * for large arrays, fastest for arrays from `pool.alloc()` (no staging copy).
   */
  fillUniform<T extends Float64Array | Float32Array>(out: T, lo = 0, hi = 1): T {
    if (!(out instanceof Float64Array) && !(out instanceof Float32Array)) throw new UsageError("fillUniform needs a Float64Array or Float32Array", { op: "rng.fillUniform" });
    checkFinite("lo", lo, "rng.fillUniform");
    checkFinite("hi", hi, "rng.fillUniform");
    const n = out.length;
    fillWords(this.#key, this.#pos, n, out instanceof Float64Array ? Mode.F64 : Mode.F32, out, 0);
    this.#pos += n;
    if (lo !== 0 || hi !== 1) {
      const w = hi - lo;
      for (let i = 0; i < n; i++) out[i] = lo + w * out[i]!;
    }
    return out;
  }

  /**
   * Fills `out` with normals `mean + sd·z`: the same values as `out.length` calls of {@link normal}
   * (a spare left by `normal()` is used first, and an odd length leaves one).
   */
  fillNormal<T extends Float64Array | Float32Array>(out: T, mean = 0, sd = 1): T {
    if (!(out instanceof Float64Array) && !(out instanceof Float32Array)) throw new UsageError("fillNormal needs a Float64Array or Float32Array", { op: "rng.fillNormal" });
    checkFinite("mean", mean, "rng.fillNormal");
    checkFinite("sd", sd, "rng.fillNormal");
    if (out instanceof Float32Array) {
      out.set(this.fillNormal(new Float64Array(out.length), mean, sd));
      return out;
    }
    const n = out.length;
    let i = 0;
    if (n > 0 && this.#spare !== null) {
      out[i++] = this.#spare * sd + mean;
      this.#spare = null;
    }
    const pairs = Math.floor((n - i) / 2);
    fillNormalPairs(this.#key, this.#pos, pairs, out as Float64Array, i, mean, sd);
    this.#pos += 2 * pairs;
    i += 2 * pairs;
    if (i < n) out[i] = this.normal(mean, sd);
    return out;
  }

  /** Fills `out` with uniform integers in [0, n), the same values as `out.length` calls of {@link int}. */
  fillInt<T extends Int32Array | Uint32Array | Float64Array>(out: T, n: number): T {
    if (!(out instanceof Int32Array) && !(out instanceof Uint32Array) && !(out instanceof Float64Array))
      throw new UsageError("fillInt needs an Int32Array, Uint32Array or Float64Array", { op: "rng.fillInt" });
    if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`fillInt needs a positive safe integer n, got ${n}`, { op: "rng.fillInt" });
    const max = out instanceof Int32Array ? 2 ** 31 : out instanceof Uint32Array ? TWO32 : TWO53;
    if (n > max) throw new UsageError(`fillInt: n = ${n} does not fit a ${out.constructor.name}`, { op: "rng.fillInt" });
    const limit = TWO53 - (TWO53 % n);
    // Words come in chunks from the bulk path; rejections (rare) read past a chunk's end.
    const chunk = new Uint32Array(2 * Math.min(4096, Math.max(1, out.length)));
    let have = 0;
    let next = 0;
    for (let i = 0; i < out.length; ) {
      if (next === have) {
        have = chunk.length / 2;
        fillWords(this.#key, this.#pos, have, Mode.Bits, chunk, 0);
        next = 0;
      }
      const lo = chunk[2 * next]!;
      const hi = chunk[2 * next + 1]!;
      next++;
      this.#pos++;
      const k = (hi >>> 11) * TWO32 + lo;
      if (k < limit) out[i++] = k % n;
    }
    return out;
  }

  /** Fills `out` with the stream's raw 32-bit words (two per 64-bit word; an odd length wastes half of the last). */
  fillBits<T extends Uint32Array | Int32Array>(out: T): T {
    if (!(out instanceof Uint32Array) && !(out instanceof Int32Array)) throw new UsageError("fillBits needs a Uint32Array or Int32Array", { op: "rng.fillBits" });
    const words = Math.floor(out.length / 2);
    const u = out instanceof Uint32Array ? out : new Uint32Array(out.buffer, out.byteOffset, out.length);
    fillWords(this.#key, this.#pos, words, Mode.Bits, u, 0);
    this.#pos += words;
    if (out.length % 2 === 1) out[out.length - 1] = this.#word()[0];
    return out;
  }
}

/**
 * The stream of `seed` along `key`: the function behind `world.rng(...key)`, for code that has no
 * world (a pool worker, a test). `createRng(world.seed, "a", 1)` is `world.rng("a", 1)`.
 *
 * ```ts
 * const r = createRng(42, "walker", 3);
 * r.uniform();
 * ```
 */
export function createRng(seed: RngSeed, ...key: RngKey[]): Rng {
  checkKey(seed, "the rng seed");
  checkPath(key, 0);
  return Rng.create(seed, ...key);
}
