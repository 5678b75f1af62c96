/**
 * The seam the collectives call: `reduceInto(op, dst, src)` does `dst[i] = op(dst[i], src[i])`.
 *
 * Float64/Float32/Int32 arrays of at least {@link SMALL} elements run in the active backend
 * (WASM SIMD: in place when both live in the compute memory, else streamed through reused
 * L2-sized stages). Small arrays and the other integer types run in JS with wrapping integer
 * semantics; BigInt64/BigUint64 are exact and wrap like int64/uint64.
 */
import { kernels } from "./backend.js";
import { reduceIntoBigInts, reduceIntoNumbers } from "./js-kernels.js";
import type { ReduceOp, ReducibleArray } from "./types.js";
import { checkReduce, isKernelArray, partiallyOverlaps } from "./validate.js";

/** Below this many elements the JS loop is as fast as a WASM call (and never copies). */
export const SMALL = 256;

/**
 * Element-wise `dst[i] = op(dst[i], src[i])`, synchronous, no per-call buffer allocation.
 *
 * - `sum`, `prod`, `min`, `max` for every dtype; `band`, `bor`, `bxor`, `land`, `lor` for integer
 *   arrays only (logical ops give 1/0).
 * - Integers wrap (two's complement); BigInt64Array/BigUint64Array are exact, wrapping at 64 bits.
 * - `min`/`max` follow Math.min/Math.max: NaN propagates, and -0 is less than +0.
 * - `src` may be `dst` itself; if it partially overlaps `dst`, it is read as it was before the call.
 *
 * @throws UsageError on an unknown op, different types or lengths, Uint8ClampedArray, or a
 *   bitwise/logical op on a float array.
 */
export function reduceInto(op: ReduceOp, dst: ReducibleArray, src: ReducibleArray): void {
  checkReduce("reduceInto", op, dst, src);
  if (partiallyOverlaps(dst, src)) src = src.slice();
  if (dst instanceof BigInt64Array || dst instanceof BigUint64Array) {
    reduceIntoBigInts(op, dst, src as BigInt64Array | BigUint64Array);
    return;
  }
  if (isKernelArray(dst) && dst.length >= SMALL) {
    kernels().backend.reduceInto(op, dst, src as typeof dst);
    return;
  }
  reduceIntoNumbers(op, dst, src as Exclude<ReducibleArray, BigInt64Array | BigUint64Array>, dst instanceof Float64Array || dst instanceof Float32Array);
}
