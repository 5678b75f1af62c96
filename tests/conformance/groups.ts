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
import { KINDS, kindsFor, kindSize, type Group, type Kind } from "./plan.js";
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

/** What a job of real ranks runs: which communicator kinds, and whether the world tries the thresholds. */
export interface JobPlan {
  kinds: readonly Kind[];
  thresholds: boolean;
}

/**
 * The kinds each real-process job runs, so that 1–5 ranks stay within the suite's time budget
 * (the in-memory runs carry the full matrix): the world at every size, every other kind at two
 * sizes where it is a communicator of its own (odd at 2 and 4 is a 1- and 2-rank subgroup; the
 * mesh dimension at 4 is a 2-rank column, at 3 the whole prime-sized world), and the threshold
 * sizes (megabytes per rank, the large-message paths of the transports) at 2 ranks (the 2-rank
 * allreduce threshold) and at 4 over two pretend nodes.
 */
export const PROCESS_PLANS: Record<number, JobPlan> = {
  1: { kinds: ["world", "self"], thresholds: false },
  2: { kinds: ["world", "dup", "odd"], thresholds: true },
  3: { kinds: ["world", "reversed", "mesh"], thresholds: false },
  4: { kinds: ["world", "mesh", "odd", "dup"], thresholds: true },
  5: { kinds: ["world", "reversed", "self"], thresholds: false },
};

/** Under srun (4 tasks on two nodes): the world with its thresholds, and two kinds that span both nodes differently. */
export const SRUN_PLAN: JobPlan = { kinds: ["world", "odd", "mesh"], thresholds: true };

/** The plan of a real-process job of `p` ranks (every kind with thresholds for a size the table does not name). */
export function processPlan(p: number): JobPlan {
  return PROCESS_PLANS[p] ?? { kinds: kindsFor(p), thresholds: true };
}

/** The plan as environment for rank-main.ts, and back. */
export function planEnv(jp: JobPlan): Record<string, string> {
  return { CONFORMANCE_KINDS: jp.kinds.join(","), CONFORMANCE_THRESHOLDS: jp.thresholds ? "1" : "0" };
}

/** The plan rank-main.ts was started with. */
export function planFromEnv(env: NodeJS.ProcessEnv): JobPlan {
  const kinds = (env.CONFORMANCE_KINDS ?? "").split(",").filter((k): k is Kind => (KINDS as readonly string[]).includes(k));
  return { kinds: kinds.length ? kinds : KINDS, thresholds: env.CONFORMANCE_THRESHOLDS !== "0" };
}

/**
 * Every (kind, group) a job of `p` real ranks runs under `jp`, in order; every rank computes the
 * same list. Only the world tries the threshold sizes; the other kinds keep to small sizes.
 */
export function plan(p: number, jp: JobPlan): Step[] {
  const steps: Step[] = [];
  for (const kind of kindsFor(p).filter((k) => jp.kinds.includes(k)))
    for (const group of groupsFor(kind, p, "process", jp.thresholds && kind === "world")) steps.push({ g: steps.length, kind, group });
  return steps;
}
