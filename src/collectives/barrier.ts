/**
 * Barrier: every rank waits until every rank has called it. The dissemination barrier (⌈lg p⌉
 * rounds of empty messages, any rank count), as MPICH uses for intracommunicators; across nodes
 * with several ranks on a node, the hierarchical barrier (gather to node leaders, leaders'
 * dissemination, release), so only ⌈lg nodes⌉ rounds cross between nodes.
 */
import type { CollectiveOptions } from "./args.js";
import { barrierHierarchical } from "./hierarchical.js";
import { multiNode, type LayoutFacts } from "./layout.js";
import type { CollectiveSequence } from "./sequence.js";
import { barrierDissemination, barrierTree } from "./tree.js";

/** The barrier algorithms. */
export type BarrierAlgorithm = "dissemination" | "hierarchical";

/** What the barrier's choice may depend on (facts every rank shares). */
export interface BarrierFacts {
  /** Ranks in the communicator. */
  size: number;
  /** Where the ranks run (default: one node). */
  layout?: LayoutFacts;
}

/**
 * The barrier algorithm for these facts. Measured (launcher/bench/node-aware.ts, 2 pretend nodes,
 * load 26-77), hierarchical ÷ dissemination: 8 ranks wall 0.25, CPU 0.45; 4 ranks CPU 1.23 and
 * 0.88, wall 2.91 and 1.00 (noise of a loaded machine at the 4-10 ms a barrier took there).
 */
export function chooseBarrier(f: BarrierFacts): BarrierAlgorithm {
  return f.layout && multiNode(f.layout) ? "hierarchical" : "dissemination";
}

/**
 * Runs a barrier under the name `op` (`finalize` uses one too). Finalize's barrier, unless an
 * algorithm is forced, takes the binomial tree on one node instead of dissemination: it is often
 * the job's first collective, and then each pair it makes talk must first connect (a plain
 * init + finalize, `zmpi launch -n 32`: finalize 62–65 → 27–33 ms of CPU a rank, p − 1 pairs
 * instead of p⌈lg p⌉; at 8 ranks, whose pairs are connected at start-up, the same); across nodes
 * the hierarchical barrier already keeps to few pairs.
 */
export function runBarrier(calls: CollectiveSequence, opts: CollectiveOptions | undefined, op = "barrier"): Promise<void> {
  const forcedAlg = calls.forced("barrier", opts?.algorithm) as BarrierAlgorithm | null;
  const layout = calls.layout;
  const alg = forcedAlg ?? chooseBarrier({ size: calls.size, layout: layout.facts });
  const c = calls.begin(op, forcedAlg ?? "", opts);
  if (calls.size === 1) return calls.run(Promise.resolve());
  if (alg === "hierarchical") return calls.run(barrierHierarchical(c, layout));
  return calls.run(op === "finalize" && !forcedAlg ? barrierTree(c) : barrierDissemination(c));
}
