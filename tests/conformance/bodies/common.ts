/**
 * Pieces the collective bodies share: the sizes every collective is tried at, the forms a result
 * can take (new array, `out`, in place), which forced algorithms apply to which data, and the
 * checks of a typed result in each form.
 */
import { ALGORITHMS, type TypedArray } from "../../../src/index.js";
import type { Check } from "../check.js";
import type { Ctx } from "../plan.js";
import type { Dtype, Num } from "../data.js";

/** How a typed result is asked for: a new array, a separate longer `out`, or `out` = the input. */
export type Mode = "new" | "out" | "inplace";
export const MODES: readonly Mode[] = ["new", "out", "inplace"];

/** Whether the call is blocking or its `i…` form waited on. */
export type Via = "blocking" | "request";
export const VIAS: readonly Via[] = ["blocking", "request"];

/** Sizes every collective is tried at: 0, 1, odd, and one not divisible by the size. */
export function smallSizes(p: number, pairs = false): number[] {
  const s = pairs ? [0, 2, 6, 2 * (p + 1)] : [0, 1, 7, 3 * p + 1];
  return [...new Set(s)];
}

/** Algorithm names of a collective (from the code's ALGORITHMS), `null` standing for the automatic choice. */
export function algorithms(coll: keyof typeof ALGORITHMS): Array<string | null> {
  return [null, ...(ALGORITHMS[coll] as readonly string[])];
}

/** Facts that decide whether a forced algorithm applies. */
export interface Facts {
  typed: boolean;
  commutative: boolean;
  size: number;
  /** Every rank passes a typed buffer (bcast: non-roots too). */
  buffers?: boolean;
}

/**
 * Whether forcing `alg` on `coll` is a valid request (the documented preconditions). An algorithm
 * this table does not know is assumed to need typed data and a commutative op.
 */
export function applies(coll: string, alg: string | null, f: Facts): boolean {
  if (alg === null) return true;
  switch (`${coll}/${alg}`) {
    case "allreduce/recursive-doubling":
    case "reduce/binomial":
    case "reduceScatter/reduce-scatterv":
    case "bcast/binomial":
    case "alltoall/linear":
    case "alltoall/pairwise":
    case "gather/linear":
    case "scatter/linear":
    case "scan/recursive-doubling":
    case "barrier/dissemination":
      return true;
    case "allreduce/ring":
    case "reduce/reduce-scatter-gather":
      return f.typed && f.commutative;
    case "reduceScatter/ring":
      return f.commutative;
    case "allgather/ring":
    case "allgather/bruck":
      return f.typed;
    case "allgather/recursive-doubling":
      return f.typed && (f.size & (f.size - 1)) === 0;
    case "bcast/scatter-allgather":
      return f.typed && f.buffers === true;
    default:
      return f.typed && f.commutative;
  }
}

/**
 * Algorithms tried at a threshold's sides: all of them (and the automatic choice) in memory; on
 * real processes the automatic choice only (the algorithms' code is the same on both transports;
 * what real processes add is the large-message path, which the automatic choice takes on each
 * side), so megabyte-sized cases stay few where they cost real copies on a shared 2-core machine.
 */
export function thresholdAlgorithms(x: Ctx, coll: keyof typeof ALGORITHMS): Array<string | null> {
  return x.level === "process" ? [null] : algorithms(coll);
}

/** Collective options with a forced algorithm (or none). */
export function algOpts(alg: string | null): { algorithm?: string } {
  return alg === null ? {} : { algorithm: alg };
}

/** A sentinel-filled array of `n` elements (what `out` holds before the call). */
export function sentinel(d: Dtype, n: number): TypedArray {
  const a = new d.ctor(n) as unknown as { fill(v: Num): void };
  a.fill(d.big ? 77n : 77);
  return a as unknown as TypedArray;
}

/** A copy of a typed array's contents (what the input held before the call). */
export function snapshot(a: TypedArray): TypedArray {
  return a.slice() as TypedArray;
}

/** One array of type `d` holding `parts` in order. */
export function join(d: Dtype, parts: readonly TypedArray[]): TypedArray {
  const a = new d.ctor(parts.reduce((n, x) => n + x.length, 0));
  let at = 0;
  for (const x of parts) {
    (a as unknown as { set(v: TypedArray, o: number): void }).set(x, at);
    at += x.length;
  }
  return a;
}

/**
 * Prepares the `out` of a mode: none, a separate array two elements longer than the result, or
 * the input itself (then the result is `input.subarray(0, n)`).
 */
export function outFor(mode: Mode, d: Dtype, input: TypedArray, n: number): TypedArray | undefined {
  if (mode === "new") return undefined;
  if (mode === "inplace") return input;
  return sentinel(d, n + 2);
}

/**
 * Checks a typed result against `expected` in its mode: values, C1's aliasing rule (a new result
 * shares no memory with the input; with `out` the result is `out` or its head), `out`'s tail
 * untouched, and the input unchanged when it was not the `out`.
 */
export function checkTyped(
  t: Check,
  what: string,
  d: Dtype,
  mode: Mode,
  result: unknown,
  expected: ArrayLike<Num>,
  input: TypedArray | undefined,
  inputBefore: ArrayLike<Num> | undefined,
  out: TypedArray | undefined,
  tolerance?: number,
): void {
  t.typed(result, d.ctor, expected, what, tolerance);
  if (mode === "new" && input !== undefined) t.fresh(result, input, what);
  if (out !== undefined) {
    t.isOut(result, out, expected.length, what);
    if (mode === "out") t.untouched(out, expected.length, d.big ? 77n : 77, what);
  }
  if (input !== undefined && inputBefore !== undefined && mode !== "inplace") t.typed(input, d.ctor, inputBefore, `${what}: the input was modified`);
}

/**
 * Bytes of one threshold side's arrays over all in-process ranks that the in-memory run takes on
 * (every rank of a memory world lives in one process): 1 MiB ring segments need size² MiB, so
 * they are tried in memory up to 3 ranks, and at every size on real processes (1–5).
 */
export const MEMORY_SIDE_BYTES = 12 * 1024 * 1024;

/** Whether a threshold side of `n` elements of `elt` bytes fits this run (see {@link MEMORY_SIDE_BYTES}). */
export function affordable(x: Ctx, n: number, elt: number): boolean {
  return x.level === "process" || n * elt * x.comm.size <= MEMORY_SIDE_BYTES;
}

/** A call through its blocking form or through its `i…` request. */
export async function via<T>(how: Via, blocking: () => Promise<T>, request: () => { wait(): Promise<T> }): Promise<T> {
  return how === "blocking" ? blocking() : request().wait();
}
