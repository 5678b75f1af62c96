/**
 * Every group of the suite, in the order a job runs them. Each is one set of cases about one
 * collective or one point-to-point area; the runners run each over every communicator kind.
 */
import { commGroups } from "./bodies/comm.js";
import { mismatchGroups } from "./bodies/mismatch.js";
import { movementGroups } from "./bodies/movement.js";
import { nonblockingGroups } from "./bodies/nonblocking.js";
import { p2pGroups } from "./bodies/p2p.js";
import { reductionGroups } from "./bodies/reductions.js";
import { requestGroups } from "./bodies/request.js";
import { vectorGroups } from "./bodies/vectors.js";
import { kindsFor, kindSize, type Group, type Kind } from "./plan.js";
import { MEMORY_SIDE_BYTES } from "./bodies/common.js";
import { sides, thresholdsFor } from "./thresholds.js";

export const GROUPS: readonly Group[] = [
  ...commGroups,
  ...nonblockingGroups,
  ...reductionGroups,
  ...movementGroups,
  ...vectorGroups,
  ...p2pGroups,
  ...requestGroups,
  ...mismatchGroups,
];

/**
 * Groups that apply to `kind` at `p` ranks on this transport; the threshold groups only when
 * `thresholds` (and while select.ts has a threshold for their collective).
 */
export function groupsFor(kind: Kind, p: number, transport: "memory" | "process", thresholds: boolean): Group[] {
  return GROUPS.filter(
    (g) =>
      (transport === "memory" || !g.memoryOnly) &&
      kindSize(kind, p) >= (g.minSize ?? 1) &&
      (g.thresholdsOf === undefined || (thresholds && thresholdsFor(g.thresholdsOf).length > 0 && (transport === "process" || someSideFits(g.thresholdsOf, kindSize(kind, p))))),
  );
}

/**
 * Whether any threshold side of `collective` fits an in-memory run of `p` ranks (float64, see
 * MEMORY_SIDE_BYTES): the 1 MiB ring segments need p² MiB, so above a few ranks only real
 * processes try them; the groups where nothing fits are not declared rather than run empty.
 */
function someSideFits(collective: string, p: number): boolean {
  return thresholdsFor(collective).some((th) => sides(th, p, 8).some((sd) => sd.n * 8 * p <= MEMORY_SIDE_BYTES));
}

/** One (kind, group) of a job, with its index in the job's order. */
export interface Step {
  g: number;
  kind: Kind;
  group: Group;
}

/**
 * Every (kind, group) a job of `p` real ranks runs, in order; every rank computes the same list.
 * The world tries the threshold sizes; the other kinds keep to small sizes.
 */
export function plan(p: number): Step[] {
  const steps: Step[] = [];
  for (const kind of kindsFor(p)) for (const group of groupsFor(kind, p, "process", kind === "world")) steps.push({ g: steps.length, kind, group });
  return steps;
}
