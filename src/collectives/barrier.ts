/**
 * Barrier: every rank waits until every rank has called it. One algorithm, the dissemination
 * barrier (⌈lg p⌉ rounds of empty messages, any rank count), as MPICH uses for intracommunicators.
 */
import type { CollectiveOptions } from "./args.js";
import { forced } from "./select.js";
import type { CollectiveSequence } from "./sequence.js";
import { barrierDissemination } from "./tree.js";

/** The barrier algorithms. */
export type BarrierAlgorithm = "dissemination";

/** What the barrier's choice may depend on (facts every rank shares). */
export interface BarrierFacts {
  /** Ranks in the communicator. */
  size: number;
}

/** The barrier algorithm for these facts. */
export function chooseBarrier(_facts: BarrierFacts): BarrierAlgorithm {
  return "dissemination";
}

/** Runs a barrier under the name `op` (`finalize` uses one too). */
export function runBarrier(calls: CollectiveSequence, opts: CollectiveOptions | undefined, op = "barrier"): Promise<void> {
  forced("barrier", opts?.algorithm);
  const c = calls.begin(op, "", opts);
  return calls.run(calls.size === 1 ? Promise.resolve() : barrierDissemination(c));
}
