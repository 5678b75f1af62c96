/**
 * The aliasing rule in one place: a collective's result never shares memory with its input unless
 * the caller passed `out` (then the result is `out`, or `out.subarray(0, n)` when `out` is longer).
 */
import { isTypedArray, type TypedArray } from "../transport/dtype.js";
import { valuePackr } from "../transport/frame.js";
import { copyOf, put } from "./blocks.js";

/**
 * A private copy of the value this rank keeps for itself (so results never alias inputs). Plain
 * values make the msgpack round trip the other ranks' copies made, so every rank sees the same
 * value (a Map arrives as a plain object everywhere, not only elsewhere).
 */
export function copyValue<T>(v: T): T {
  if (isTypedArray(v)) return copyOf(v) as T;
  if (v === null || typeof v !== "object") return v;
  return valuePackr.unpack(valuePackr.pack(v)) as T;
}

/** `out` trimmed to `n` elements (itself when it has exactly `n`). */
export function fit<T extends TypedArray>(out: T, n: number): T {
  return (out.length === n ? out : out.subarray(0, n)) as T;
}

/** Copies `result` into `out` and returns the filled part (no copy when `result` already is `out`'s start). */
export function into<T extends TypedArray>(out: T, result: TypedArray): T {
  if (out.buffer !== result.buffer || out.byteOffset !== result.byteOffset) put(out, result, 0);
  return fit(out, result.length);
}
