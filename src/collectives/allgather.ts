/**
 * Allgather and allgatherv: every rank's data on every rank. Typed arrays: recursive doubling
 * (power-of-two sizes) or Bruck for short totals, the ring for long ones; plain values: Bruck
 * (⌈lg p⌉ rounds for any rank count). Blocks land in place in one result array.
 */
import { UsageError } from "../errors.js";
import { dtypeName, dtypeOf, isTypedArray, type TypedArray } from "../transport/dtype.js";
import { checkCounts, checkOut, checkOutLate, describe, encodeCheck, requireTyped, total, type OutOptions } from "./args.js";
import { like, offsetsOf, put } from "./blocks.js";
import { allgatherBruck, allgatherRecursiveDoubling, allgatherRing } from "./ring.js";
import { ALLGATHER_RING_MIN_BYTES } from "./select.js";
import type { CollectiveSequence } from "./sequence.js";
import { copyValue, fit } from "./values.js";

/** The allgather algorithms. */
export type AllgatherAlgorithm = "ring" | "recursive-doubling" | "bruck";

/** What the allgather choice depends on: every rank passes the same dtype and length. */
export interface AllgatherFacts {
  /** Ranks in the communicator. */
  size: number;
  /** True for typed arrays. */
  typed: boolean;
  /** Bytes of the whole result (every rank's block). */
  totalBytes: number;
}

function isPof2(p: number): boolean {
  return (p & (p - 1)) === 0;
}

/** The allgather algorithm for these facts. */
export function chooseAllgather(f: AllgatherFacts): AllgatherAlgorithm {
  if (!f.typed) return "bruck";
  if (f.totalBytes >= ALLGATHER_RING_MIN_BYTES) return "ring";
  return isPof2(f.size) ? "recursive-doubling" : "bruck";
}

/** Allgather of `data`. */
export function runAllgather(calls: CollectiveSequence, data: unknown, opts: OutOptions | undefined): Promise<unknown> {
  encodeCheck(data);
  const p = calls.size;
  const typed = isTypedArray(data);
  const facts: AllgatherFacts = { size: p, typed, totalBytes: typed ? data.byteLength * p : 0 };
  let alg = (calls.forced("allgather", opts?.algorithm) as AllgatherAlgorithm | null) ?? chooseAllgather(facts);
  // An algorithm forced by the environment applies where it can (ZMPI_ALGORITHM=ring must not
  // break the allgathers inside mesh() or split()); one forced by the call is the caller's promise.
  if (opts?.algorithm === undefined && ((!typed && alg !== "bruck") || (alg === "recursive-doubling" && !isPof2(p)))) alg = chooseAllgather(facts);
  if (!typed) {
    if (alg !== "bruck") throw new UsageError(`plain values are allgathered with bruck, not ${alg}`, { comm: calls.name, op: "allgather" });
    const c = calls.begin("allgather", `object, bruck`, opts);
    const work = async () => {
      const items = p === 1 ? [undefined] : await allgatherBruck(c, data);
      items[calls.rank] = copyValue(data);
      return items;
    };
    return calls.run(work());
  }
  if (alg === "recursive-doubling" && !isPof2(p)) throw new UsageError(`recursive-doubling allgather needs a power-of-two size, not ${p}`, { comm: calls.name, op: "allgather" });
  const k = data.length;
  checkOut(calls, opts?.out, data, k * p, "allgather");
  const c = calls.begin("allgather", `${describe(data)}, ${alg}`, opts);
  const work = async () => {
    const n = k * p;
    const buf = opts?.out ? fit(opts.out, n) : like(data, n);
    put(buf, data, calls.rank * k);
    if (p === 1) return buf;
    if (alg === "ring") {
      const counts = new Array<number>(p).fill(k);
      await allgatherRing(c, buf, counts, offsetsOf(counts));
    } else if (alg === "recursive-doubling") {
      await allgatherRecursiveDoubling(c, buf, k);
    } else {
      const parts = await allgatherBruck(c, data);
      parts.forEach((part, r) => put(buf, part as TypedArray, r * k));
    }
    return buf;
  };
  return calls.run(work());
}

/**
 * Allgatherv of typed blocks of different lengths (ring). Without `counts` the ranks allgather
 * their lengths first, in the same call (one sequence number, taken now).
 */
export function runAllgatherv<T extends TypedArray>(calls: CollectiveSequence, data: T, counts: readonly number[] | undefined, opts: OutOptions<T> | undefined): Promise<T> {
  requireTyped(data, "allgatherv");
  const given = counts ? checkCounts(calls, counts, "allgatherv") : null;
  if (given && given[calls.rank] !== data.length)
    throw new UsageError(`allgatherv: counts[${calls.rank}] is ${given[calls.rank]} but this rank passed ${data.length} elements`, { comm: calls.name, op: "allgatherv" });
  if (given) checkOut(calls, opts?.out, data, total(given), "allgatherv");
  const c = calls.begin("allgatherv", `${dtypeName(dtypeOf(data))}, ring${given ? "" : ", counts exchanged"}`, opts);
  const work = async () => {
    const cs = given ?? ((await allgatherBruck(c, data.length)) as number[]);
    const n = total(cs);
    if (!given) checkOutLate(calls, opts?.out, data, n, "allgatherv");
    const offs = offsetsOf(cs);
    const buf = opts?.out ? fit(opts.out, n) : like(data, n);
    put(buf, data, offs[calls.rank]!);
    if (calls.size > 1) await allgatherRing(c, buf, cs, offs);
    return buf as T;
  };
  return calls.run(work());
}
