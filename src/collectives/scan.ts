/**
 * Scan and exscan: prefix reductions, rank i gets data_0 ⊕ … ⊕ data_i (inclusive) or
 * data_0 ⊕ … ⊕ data_(i−1) (exclusive; rank 0 gets undefined). Recursive doubling, operand order
 * kept, so non-commutative ops are exact.
 */
import { isTypedArray } from "../transport/dtype.js";
import { UsageError } from "../errors.js";
import { checkOut, describe, encodeCheck, type OutOptions } from "./args.js";
import type { Op } from "./op.js";
import type { CollectiveSequence } from "./sequence.js";
import { scanRecursiveDoubling } from "./tree.js";
import { copyValue, into } from "./values.js";

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
  calls.forced("scan", opts?.algorithm);
  const out = opts?.out;
  if (out !== undefined) {
    if (!isTypedArray(data)) throw new UsageError(`${name}: out is for typed arrays, but the data is a plain value`, { comm: calls.name, op: name });
    checkOut(calls, out, data, data.length, name);
  }
  const c = calls.begin(name, `${describe(data)}, ${op.name}`, opts);
  const work = async () => {
    // The prefix is built in private copies, so out may be the input itself (in place).
    const result = calls.size === 1 ? (exclusive ? undefined : copyValue(data)) : await scanRecursiveDoubling(c, data, op, exclusive);
    return out && isTypedArray(result) ? into(out, result) : result;
  };
  return calls.run(work());
}
