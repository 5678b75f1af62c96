/**
 * ReduceScatter: the reduction of every rank's typed array, block i of it on rank i (counts in
 * items: elements, or `[value, index]` pairs for MINLOC/MAXLOC). The ring
 * (p−1 steps, each byte reduced once) for commutative ops; for non-commutative ones a binomial
 * reduce to rank 0 (operand order kept) and a scatter of the blocks.
 */
import { UsageError } from "../errors.js";
import type { TypedArray } from "../transport/dtype.js";
import { checkCounts, checkOut, describe, requireTyped, total, type OutOptions } from "./args.js";
import { copyOf, offsetsOf, unitCounts } from "./blocks.js";
import type { Op } from "./op.js";
import { reduceScatterRing, scatterLinear } from "./ring.js";
import type { CollectiveSequence } from "./sequence.js";
import { reduceBinomial } from "./tree.js";
import { into } from "./values.js";

/** The reduce-scatter algorithms. */
export type ReduceScatterAlgorithm = "ring" | "reduce-scatterv";

/** What the reduce-scatter choice depends on: every rank passes the same op. */
export interface ReduceScatterFacts {
  /** Whether the op allows reordering operands. */
  commutative: boolean;
}

/** The reduce-scatter algorithm for these facts. */
export function chooseReduceScatter(f: ReduceScatterFacts): ReduceScatterAlgorithm {
  return f.commutative ? "ring" : "reduce-scatterv";
}

/** ReduceScatter of `data` with `op` (checked by the caller); `counts` default to a balanced split. */
export function runReduceScatter<T extends TypedArray>(
  calls: CollectiveSequence,
  data: T,
  op: Op,
  counts: readonly number[] | undefined,
  opts: OutOptions<T> | undefined,
): Promise<T> {
  requireTyped(data, "reduceScatter");
  op.check(data);
  const p = calls.size;
  // Counts are in items: elements, or [value, index] pairs for MINLOC/MAXLOC.
  const unit = op.unit;
  const items = data.length / unit;
  const given = counts ? checkCounts(calls, counts, "reduceScatter") : null;
  if (given && total(given) !== items) {
    const what = unit === 2 ? `${items} [value, index] pairs (${op.name} counts are in pairs)` : `${items} elements`;
    throw new UsageError(`reduceScatter: counts add up to ${total(given)} but the data has ${what}`, { comm: calls.name, op: "reduceScatter" });
  }
  const cs = given ? (unit === 1 ? given : given.map((k) => k * unit)) : unitCounts(data.length, p, unit);
  checkOut(calls, opts?.out, data, cs[calls.rank]!, "reduceScatter");
  let alg = (calls.forced("reduceScatter", opts?.algorithm) as ReduceScatterAlgorithm | null) ?? chooseReduceScatter({ commutative: op.commutative });
  // Forced by the environment where it cannot apply: the automatic choice (see allgather.ts).
  if (alg === "ring" && !op.commutative && opts?.algorithm === undefined) alg = chooseReduceScatter({ commutative: op.commutative });
  if (alg === "ring" && !op.commutative) throw new UsageError("the ring reduce-scatter needs a commutative op", { comm: calls.name, op: "reduceScatter" });
  const c = calls.begin("reduceScatter", `${describe(data)}, ${op.name}, [${cs.join(",")}], ${alg}`, opts);
  const offs = offsetsOf(cs);
  const me = calls.rank;
  const work = async (): Promise<T> => {
    let block: TypedArray;
    if (alg === "ring") {
      const buf = copyOf(data);
      if (p > 1) await reduceScatterRing(c, buf, op, cs, offs);
      block = buf.subarray(offs[me]!, offs[me]! + cs[me]!);
    } else if (p === 1) {
      block = copyOf(data);
    } else {
      const full = (await reduceBinomial(c, data, op, 0)) as TypedArray | undefined;
      block = await scatterLinear(c, 0, full ?? null, cs, offs);
    }
    return (opts?.out ? into(opts.out, block) : block) as T;
  };
  return calls.run(work());
}
