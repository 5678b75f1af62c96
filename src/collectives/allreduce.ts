/**
 * Allreduce: the reduction of every rank's data, on every rank. Recursive doubling for short
 * messages, plain values and non-commutative ops (operand order kept); the ring (reduce-scatter +
 * allgather, bandwidth-optimal) for long typed arrays with a commutative op — MPICH's split. On a
 * communicator that spans nodes with several ranks on a node, the hierarchical algorithm
 * (hierarchical.ts) combines inside nodes first and crosses between nodes once per node.
 */
import type { TypedArray } from "../transport/dtype.js";
import { isTypedArray } from "../transport/dtype.js";
import { UsageError } from "../errors.js";
import { checkOut, describe, encodeCheck, type OutOptions } from "./args.js";
import { like, offsetsOf, unitCounts } from "./blocks.js";
import { allreduceHierarchical, allreduceSegments, chooseHierarchicalShape } from "./hierarchical.js";
import { multiNode, oneNode, type LayoutFacts } from "./layout.js";
import type { Op } from "./op.js";
import { allgatherRing, reduceScatterRing } from "./ring.js";
import { ALLREDUCE_RING_MIN_BYTES, ALLREDUCE_RING_MIN_BYTES_MANY } from "./select.js";
import type { CollectiveSequence } from "./sequence.js";
import { allreduceRecursiveDoubling } from "./tree.js";
import { copyValue, fit, into } from "./values.js";

/** The allreduce algorithms. */
export type AllreduceAlgorithm = "recursive-doubling" | "ring" | "hierarchical";

/** What the allreduce choice depends on: every rank passes the same dtype, length and op. */
export interface AllreduceFacts {
  /** Ranks in the communicator. */
  size: number;
  /** True for a typed array (reduced element-wise), false for a plain value. */
  typed: boolean;
  /** Bytes of the typed array (0 for a plain value). */
  bytes: number;
  /** Items of the typed array (elements; MINLOC/MAXLOC pairs), 0 for a plain value. */
  units: number;
  /** Whether the op allows reordering operands. */
  commutative: boolean;
  /** Where the ranks run (default: one node). */
  layout?: LayoutFacts;
}

/**
 * True when the hierarchical allreduce keeps the flat algorithms' operand order (or the op does not
 * care): a non-commutative op needs every node's ranks consecutive.
 */
export function hierarchyKeepsOrder(f: AllreduceFacts): boolean {
  return f.commutative || (f.layout ?? oneNode(f.size)).contiguous;
}

/**
 * The allreduce algorithm for these facts. Across nodes with several ranks on a node: hierarchical
 * at every size. Measured with launcher/bench/node-aware.ts (A/B in one job, order alternating) on
 * 2 pretend nodes of the shared 2-core VM under load 26-77 (so wall times are noisy; CPU time
 * summed over ranks is the steadier figure), hierarchical ÷ flat: 64 MiB vs ring, 4 ranks wall
 * 0.65 and 0.57, CPU 0.85 and 0.70; 8 ranks wall 0.82, CPU 0.85. 8 B vs recursive doubling, 4 ranks
 * CPU 0.86 and 0.84 but wall 1.09 and 2.17; 8 ranks CPU 0.91, wall 1.31: on block layouts recursive
 * doubling already crosses nodes only in its last round, and the hierarchy adds a local hop, so
 * the small-message crossover is not settled (see /work/coord/h12-coll-report.md).
 */
export function chooseAllreduce(f: AllreduceFacts): AllreduceAlgorithm {
  if (f.layout && multiNode(f.layout) && hierarchyKeepsOrder(f)) return "hierarchical";
  if (!f.typed || !f.commutative || f.units < f.size) return "recursive-doubling";
  const from = f.size === 2 ? ALLREDUCE_RING_MIN_BYTES : ALLREDUCE_RING_MIN_BYTES_MANY;
  return f.bytes > from ? "ring" : "recursive-doubling";
}

/** Allreduce of `data` with `op` (checked by the caller). */
export function runAllreduce<T>(calls: CollectiveSequence, data: T, op: Op, opts: OutOptions | undefined): Promise<T> {
  encodeCheck(data);
  const typed = isTypedArray(data);
  if (typed) {
    op.check(data);
    checkOut(calls, opts?.out, data, data.length, "allreduce");
  }
  const n = typed ? data.length : 0;
  const layout = calls.layout;
  const facts: AllreduceFacts = { size: calls.size, typed, bytes: typed ? data.byteLength : 0, units: n / op.unit, commutative: op.commutative, layout: layout.facts };
  let alg = (calls.forced("allreduce", opts?.algorithm) as AllreduceAlgorithm | null) ?? chooseAllreduce(facts);
  // Forced hierarchical with an order the hierarchy would change: the flat algorithm (same on every rank).
  if (alg === "hierarchical" && !hierarchyKeepsOrder(facts)) alg = chooseAllreduce({ ...facts, layout: undefined });
  // Forced by the environment where it cannot apply: the automatic choice (see allgather.ts).
  if (alg === "ring" && !(typed && op.commutative) && opts?.algorithm === undefined) alg = chooseAllreduce(facts);
  if (alg === "ring" && !(typed && op.commutative)) throw new UsageError("the ring allreduce needs a typed array and a commutative op", { comm: calls.name, op: "allreduce" });
  const c = calls.begin("allreduce", `${describe(data)}, ${op.name}, ${alg}`, opts);
  const work = async (): Promise<T> => {
    const out = opts?.out;
    if (alg === "hierarchical" && chooseHierarchicalShape({ ...facts, uniform: layout.facts.uniform }) === "segments") {
      const buf = out ? fit(out, n) : like(data as TypedArray, n);
      await allreduceSegments(c, layout, buf, data as TypedArray, op);
      return buf as T;
    }
    if (alg === "hierarchical") {
      const result = calls.size === 1 ? copyValue(data) : await allreduceHierarchical(c, layout, data, op);
      return (out && isTypedArray(result) ? into(out, result) : result) as T;
    }
    if (alg === "ring") {
      const src = data as TypedArray;
      const buf = out ? fit(out, n) : like(src, n);
      const counts = unitCounts(n, calls.size, op.unit);
      const offs = offsetsOf(counts);
      await reduceScatterRing(c, buf, op, counts, offs, src);
      if (calls.size > 1) await allgatherRing(c, buf, counts, offs);
      return buf as T;
    }
    const result = calls.size === 1 ? copyValue(data) : await allreduceRecursiveDoubling(c, data, op);
    return (out && isTypedArray(result) ? into(out, result) : result) as T;
  };
  return calls.run(work());
}
