/** Typed-array block helpers shared by the algorithms. */
import { ctorOf, DType, type TypedArray, type TypedArrayConstructor } from "../transport/dtype.js";

/** A new zeroed array of the same type as `a` with `n` elements (Buffers stay Buffers). */
export function like<T extends TypedArray>(a: T, n: number): T {
  if (Buffer.isBuffer(a)) return Buffer.alloc(n) as unknown as T;
  return new (a.constructor as TypedArrayConstructor)(n) as T;
}

/** A new zeroed array of wire dtype `code` with `n` elements (a Buffer for Buffer's code). */
export function newOf(code: number, n: number): TypedArray {
  if (code === DType.BUFFER) return Buffer.alloc(n);
  return new (ctorOf(code))(n);
}

const scratchPool = new Map<unknown, TypedArray>();

/**
 * A reusable array of `a`'s type with `n` elements, shared by every collective in the process:
 * fill it and consume it in one synchronous stretch (no `await` between), or another call may
 * overwrite it. Saves a fresh allocation, and the page faults of touching it, per received segment.
 */
export function scratchLike<T extends TypedArray>(a: T, n: number): T {
  let s = scratchPool.get(a.constructor);
  if (!s || s.length < n) {
    s = like(a, n);
    scratchPool.set(a.constructor, s);
  }
  return s.subarray(0, n) as T;
}

/** A copy of `a`. */
export function copyOf<T extends TypedArray>(a: T): T {
  const c = like(a, a.length);
  (c as unknown as { set(x: T): void }).set(a);
  return c;
}

/** True when `a` and `b` share any byte of memory. */
export function overlaps(a: TypedArray, b: TypedArray): boolean {
  if (a.buffer !== b.buffer) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** Copies `src` into `dst` at element offset `at`. */
export function put(dst: TypedArray, src: TypedArray, at: number): void {
  (dst as unknown as { set(x: TypedArray, o: number): void }).set(src, at);
}

/** Balanced split of `n` elements over `p` blocks: the first `n % p` blocks get one more. */
export function balancedCounts(n: number, p: number): number[] {
  const base = Math.floor(n / p);
  const extra = n % p;
  return Array.from({ length: p }, (_, i) => base + (i < extra ? 1 : 0));
}

/**
 * Balanced split of `n` elements over `p` blocks in items of `unit` elements (2 for MINLOC/MAXLOC
 * pairs), so no block starts inside an item. `n` is a multiple of `unit`.
 */
export function unitCounts(n: number, p: number, unit: number): number[] {
  if (unit === 1) return balancedCounts(n, p);
  return balancedCounts(n / unit, p).map((c) => c * unit);
}

/** Start offsets of blocks with the given counts. */
export function offsetsOf(counts: readonly number[]): number[] {
  const out = new Array<number>(counts.length);
  let acc = 0;
  for (let i = 0; i < counts.length; i++) {
    out[i] = acc;
    acc += counts[i]!;
  }
  return out;
}

/** Splits `[0, n)` into segments of at most `seg` elements (at least one, possibly empty). */
export function segments(n: number, seg: number): Array<[number, number]> {
  if (n === 0) return [[0, 0]];
  const out: Array<[number, number]> = [];
  for (let s = 0; s < n; s += seg) out.push([s, Math.min(seg, n - s)]);
  return out;
}
