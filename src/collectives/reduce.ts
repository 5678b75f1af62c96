/**
 * Reduce: the reduction of every rank's data, on the root. A binomial tree for short messages,
 * plain values and non-commutative ops; for long typed arrays with a commutative op, a ring
 * reduce-scatter and a gather of the blocks to the root (MPICH's Rabenseifner-style long-message
 * reduce), which moves each byte about twice instead of lg p times.
 */
import { UsageError } from "../errors.js";
import { isTypedArray, type TypedArray } from "../transport/dtype.js";
import { checkOut, describe, encodeCheck, type OutOptions } from "./args.js";
import { copyOf, offsetsOf, unitCounts } from "./blocks.js";
import type { Op } from "./op.js";
import { gatherLinear, reduceScatterRing } from "./ring.js";
import { REDUCE_SCATTER_GATHER_MIN_BYTES } from "./select.js";
import type { CollectiveSequence } from "./sequence.js";
import { reduceBinomial } from "./tree.js";
import { copyValue, into } from "./values.js";

/** The reduce algorithms. */
export type ReduceAlgorithm = "binomial" | "reduce-scatter-gather";

/** What the reduce choice depends on: every rank passes the same dtype, length, op and root. */
export interface ReduceFacts {
  /** Ranks in the communicator. */
  size: number;
  /** True for a typed array. */
  typed: boolean;
  /** Bytes of the typed array (0 for a plain value). */
  bytes: number;
  /** Whether the op allows reordering operands. */
  commutative: boolean;
}

/** The reduce algorithm for these facts. */
export function chooseReduce(f: ReduceFacts): ReduceAlgorithm {
  return f.typed && f.commutative && f.size > 1 && f.bytes >= REDUCE_SCATTER_GATHER_MIN_BYTES ? "reduce-scatter-gather" : "binomial";
}

/** Reduce of `data` with `op` to `root` (both checked by the caller). */
export function runReduce<T>(calls: CollectiveSequence, data: T, op: Op, root: number, opts: OutOptions | undefined): Promise<T | undefined> {
  encodeCheck(data);
  const typed = isTypedArray(data);
  if (typed) op.check(data);
  const facts: ReduceFacts = { size: calls.size, typed, bytes: typed ? data.byteLength : 0, commutative: op.commutative };
  const alg = (calls.forced("reduce", opts?.algorithm) as ReduceAlgorithm | null) ?? chooseReduce(facts);
  if (alg === "reduce-scatter-gather" && !(typed && op.commutative)) {
    throw new UsageError("reduce-scatter-gather needs a typed array and a commutative op", { comm: calls.name, op: "reduce" });
  }
  const isRoot = calls.rank === root;
  if (typed && isRoot) checkOut(calls, opts?.out, data, data.length, "reduce");
  const c = calls.begin("reduce", `${describe(data)}, ${op.name}, root ${root}, ${alg}`, opts, true);
  const work = async (): Promise<T | undefined> => {
    let result: unknown;
    if (alg === "reduce-scatter-gather") {
      const buf = copyOf(data as TypedArray);
      const counts = unitCounts(buf.length, calls.size, op.unit);
      const offs = offsetsOf(counts);
      await reduceScatterRing(c, buf, op, counts, offs);
      const mine = buf.subarray(offs[calls.rank]!, offs[calls.rank]! + counts[calls.rank]!);
      await gatherLinear(c, root, isRoot ? buf : null, mine, counts, offs);
      result = isRoot ? buf : undefined;
    } else {
      result = calls.size === 1 ? copyValue(data) : await reduceBinomial(c, data, op, root);
    }
    const out = opts?.out;
    if (isRoot && out && isTypedArray(result)) return into(out, result) as T;
    return result as T | undefined;
  };
  return calls.run(work(), c);
}
