/**
 * What a collective call takes, and the checks every collective shares. A bad argument is a
 * {@link UsageError} thrown by the call itself, before it takes a sequence number or sends anything.
 */
import { UsageError } from "../errors.js";
import { dtypeName, dtypeOf, isTypedArray, type TypedArray } from "../transport/dtype.js";
import { Op } from "./op.js";
import type { CollectiveSequence } from "./sequence.js";

/** Options every collective takes. */
export interface CollectiveOptions {
  /** Deadline in ms (default `ZMPI_TIMEOUT`). */
  timeoutMs?: number;
  /** Force an algorithm (must be the same on every rank); see `ALGORITHMS` in select.ts. */
  algorithm?: string;
}

/** Options of collectives that can write into a caller's typed array. */
export interface OutOptions<O extends TypedArray = TypedArray> extends CollectiveOptions {
  /**
   * Typed array to write the result into; the result is `out` itself, or `out.subarray(0, n)` when
   * `out` is longer. It may be the input itself (in place).
   */
  out?: O;
}

/** `root` must be a rank of the communicator. */
export function checkRoot(calls: CollectiveSequence, root: unknown, op: string): asserts root is number {
  if (typeof root !== "number" || !Number.isInteger(root) || root < 0 || root >= calls.size) {
    throw new UsageError(`root ${String(root)} is not a rank of this communicator (0..${calls.size - 1})`, { comm: calls.name, op, ranks: typeof root === "number" ? [root] : [] });
  }
}

/** `op` must be an {@link Op}. */
export function checkOp(calls: CollectiveSequence, op: unknown, name: string): asserts op is Op {
  if (!(op instanceof Op)) throw new UsageError(`${name} needs an Op (Op.SUM, Op.MAX, Op.create(fn), …), got ${String(op)}`, { comm: calls.name, op: name });
}

/** `out`, when given, must have `data`'s type and room for `n` elements. */
export function checkOut(calls: CollectiveSequence, out: TypedArray | undefined, like: TypedArray, n: number, op: string): void {
  if (!out) return;
  if (!isTypedArray(out)) throw new UsageError(`out must be a typed array, got ${typeof out}`, { comm: calls.name, op });
  if (dtypeOf(out) !== dtypeOf(like)) throw new UsageError(`out is ${dtypeName(dtypeOf(out))} but the data is ${dtypeName(dtypeOf(like))}`, { comm: calls.name, op });
  if (out.length < n) throw new UsageError(`out has ${out.length} elements, the result needs ${n}`, { comm: calls.name, op });
}

/**
 * `out` checked once the counts were exchanged inside the call: the other ranks are already under
 * way, so the job fails with the error on every rank instead of leaving them waiting.
 */
export function checkOutLate(calls: CollectiveSequence, out: TypedArray | undefined, like: TypedArray, n: number, op: string): void {
  try {
    checkOut(calls, out, like, n, op);
  } catch (e) {
    calls.fail(e as UsageError);
    throw e;
  }
}

/** One non-negative integer count per rank. */
export function checkCounts(calls: CollectiveSequence, counts: readonly number[], op: string): readonly number[] {
  if (!Array.isArray(counts) || counts.length !== calls.size || !counts.every((x) => Number.isInteger(x) && x >= 0)) {
    throw new UsageError(`${op} needs ${calls.size} non-negative integer counts, got ${JSON.stringify(counts)}`, { comm: calls.name, op });
  }
  return counts;
}

/** Fails early (before anything is sent) for values that cannot travel. */
export function encodeCheck(data: unknown): void {
  if (typeof data === "function" || typeof data === "symbol") throw new UsageError(`cannot send a ${typeof data}`);
}

/** The v-forms and reduceScatter take typed arrays only. */
export function requireTyped(data: unknown, op: string): asserts data is TypedArray {
  if (!isTypedArray(data)) throw new UsageError(`${op} works on typed arrays, got ${data === null ? "null" : typeof data}`, { op });
}

/** How a value appears in a signature: `float64[1000]`, `object`, `undefined`. */
export function describe(x: unknown): string {
  if (isTypedArray(x)) return `${dtypeName(dtypeOf(x))}[${x.length}]`;
  if (x === undefined) return "undefined";
  return "object";
}

/** Sum of counts. */
export function total(counts: readonly number[]): number {
  let t = 0;
  for (const c of counts) t += c;
  return t;
}
