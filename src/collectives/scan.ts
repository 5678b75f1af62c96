/**
 * Scan and exscan: prefix reductions, rank i gets data_0 ⊕ … ⊕ data_i (inclusive) or
 * data_0 ⊕ … ⊕ data_(i−1) (exclusive; rank 0 gets undefined). Recursive doubling, operand order
 * kept, so non-commutative ops are exact.
 */
import { isTypedArray } from "../transport/dtype.js";
import { describe, encodeCheck, type OutOptions } from "./args.js";
import type { Op } from "./op.js";
import { forced } from "./select.js";
import type { CollectiveSequence } from "./sequence.js";
import { scanRecursiveDoubling } from "./tree.js";
import { copyValue } from "./values.js";

/** The scan algorithms. */
export type ScanAlgorithm = "recursive-doubling";

/** What the scan choice depends on. */
export interface ScanFacts {
  /** Ranks in the communicator. */
  size: number;
}

/** The scan algorithm for these facts. */
export function chooseScan(_f: ScanFacts): ScanAlgorithm {
  return "recursive-doubling";
}

/** Scan (`exclusive` false) or exscan of `data` with `op` (checked by the caller). */
export function runScan(calls: CollectiveSequence, name: "scan" | "exscan", data: unknown, op: Op, opts: OutOptions | undefined): Promise<unknown> {
  const exclusive = name === "exscan";
  encodeCheck(data);
  if (isTypedArray(data)) op.check(data);
  forced("scan", opts?.algorithm);
  const c = calls.begin(name, `${describe(data)}, ${op.name}`, opts);
  if (calls.size === 1) return calls.run(Promise.resolve(exclusive ? undefined : copyValue(data)));
  return calls.run(scanRecursiveDoubling(c, data, op, exclusive));
}
