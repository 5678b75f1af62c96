/**
 * One set of bodies run over many communicators, as mpi4py's TestCCOObjSelf / TestCCOObjWorld /
 * TestCCOObjWorldDup do: the communicator kinds, the registry of groups (one per collective or
 * point-to-point area), and the per-rank runner that both the in-memory tests and the real-process
 * program (rank-main.ts) use, so the two run exactly the same cases.
 */
import type { Communicator } from "../../src/index.js";
import { Check, errorText, isRefusal, type Failure } from "./check.js";

/** `CONFORMANCE_TRACE=1` prints every case with its time (rank 0 of each communicator). */
const TRACE = process.env.CONFORMANCE_TRACE === "1";

/** The communicators every body runs over. */
export const KINDS = ["world", "dup", "self", "reversed", "odd", "mesh"] as const;
export type Kind = (typeof KINDS)[number];

/** What each kind is, for test names and the report. */
export const KIND_DOC: Record<Kind, string> = {
  world: "the world itself",
  dup: "world.dup()",
  self: "world.split(rank): a 1-rank communicator per rank",
  reversed: "world.split(0, size-1-rank): same ranks, reversed order",
  odd: "world.subgroup(odd ranks); the even ranks are not members",
  mesh: "a mesh dimension with stride > 1 (size = size/smallest factor), or the whole world for a prime size",
};

/**
 * Kinds that exist at `p` ranks: the odd subgroup needs a rank 1 (MPI has no empty communicator).
 */
export function kindsFor(p: number): Kind[] {
  return KINDS.filter((k) => k !== "odd" || p >= 2);
}

function smallestFactor(p: number): number {
  for (let f = 2; f * f <= p; f++) if (p % f === 0) return f;
  return p;
}

/** Size of the `kind` communicator at `p` ranks (for the odd subgroup: on its members). */
export function kindSize(kind: Kind, p: number): number {
  if (kind === "self") return 1;
  if (kind === "odd") return p >> 1;
  if (kind === "mesh") {
    const f = smallestFactor(p);
    return p / f > 1 ? p / f : f;
  }
  return p;
}

/** Builds `kind` over `world` (collective over the world: every rank calls it); null for non-members. */
export async function makeComm(world: Communicator, kind: Kind): Promise<Communicator | null> {
  const p = world.size;
  const r = world.rank;
  switch (kind) {
    case "world":
      return world;
    case "dup":
      return world.dup();
    case "self":
      return world.split(r, 0);
    case "reversed":
      return world.split(0, p - 1 - r);
    case "odd":
      return world.subgroup(Array.from({ length: p >> 1 }, (_, i) => 2 * i + 1));
    case "mesh": {
      const f = smallestFactor(p);
      const rows = p / f;
      const m = await world.mesh({ rows, cols: f }, { warn: () => {} });
      return rows > 1 ? m.rows : m.cols;
    }
  }
}

/** Everything a body needs. */
export interface Ctx {
  comm: Communicator;
  kind: Kind;
  /** "memory": in-process ranks; "process": real ranks (one job per size). */
  level: "memory" | "process";
  /**
   * "full": the products of every dimension (op × type × size, every root for every value…);
   * "lite": every value of every dimension still appears, but rotated instead of multiplied
   * (see {@link Ctx.some}), for the many sizes and kinds where the full product would not add
   * a kind of case, only more of the same.
   */
  depth: Depth;
  /** `all` at depth "full"; at "lite", the one item `k` picks (so successive `k` cover them all). */
  some<T>(all: readonly T[], k: number): readonly T[];
  /** Runs one named case on this rank. */
  run(name: string, fn: (t: Check) => Promise<void>): Promise<void>;
}

/** How much of each product a run takes (see {@link Ctx.depth}). */
export type Depth = "full" | "lite";

/** A set of cases about one collective or one point-to-point area. */
export interface Group {
  name: string;
  /** mpi4py test file(s) and cases it ports, for the report. */
  from: string;
  body(x: Ctx): Promise<void>;
  /**
   * Only on the in-memory transport: the group's cases end the job on purpose (a
   * CollectiveMismatchError fails every rank), so each needs a fresh world.
   */
  memoryOnly?: boolean;
  /** Smallest communicator the group applies to (different roots need two ranks). */
  minSize?: number;
  /**
   * The collective whose threshold sizes (megabytes per rank) this group tries. Such groups run
   * only where the runner asks for thresholds, and only while select.ts has one for it.
   */
  thresholdsOf?: string;
}

/** What one rank found in one group. */
export interface GroupResult {
  cases: number;
  failures: Failure[];
  /** Set when the job failed during the group: the remaining cases did not run. */
  fatal?: string;
  /** Time the group took on this rank, ms. */
  ms?: number;
}

/** How one (kind, group) runs. */
export interface RunOptions {
  level: Ctx["level"];
  depth: Depth;
}

/** Runs `group` over `comm` on this rank and collects its failures. */
export async function runGroup(group: Group, comm: Communicator, kind: Kind, opts: RunOptions): Promise<GroupResult> {
  const { level, depth } = opts;
  const res: GroupResult = { cases: 0, failures: [] };
  const t0 = performance.now();
  let skipped = 0;
  const ctx: Ctx = {
    comm,
    kind,
    level,
    depth,
    some: (all, k) => (depth === "full" ? all : [pick(all, k)]),
    async run(name, fn) {
      res.cases++;
      if (res.fatal !== undefined) {
        skipped++;
        return;
      }
      const t = new Check();
      const t0 = performance.now();
      try {
        await fn(t);
      } catch (e) {
        t.fail(`threw ${errorText(e)}`);
        // Anything but a refusal before sending may leave the ranks out of step (one rank threw
        // inside a collective, the others waited for it): the rest of the group cannot be trusted.
        if (!isRefusal(e)) res.fatal = `${name}: ${errorText(e)}`;
      }
      if (comm.engine.failed && res.fatal === undefined) res.fatal = `${name}: ${errorText(comm.engine.failed)}`;
      for (const message of t.problems) res.failures.push({ case: name, message });
      if (TRACE && comm.rank === 0) console.log(`[conformance] ${kind} ${(performance.now() - t0).toFixed(1)} ms ${name}${t.problems.length ? " FAIL" : ""}`);
    },
  };
  try {
    await group.body(ctx);
  } catch (e) {
    // A body only throws outside a case when its setup failed (e.g. a dup on a failed job).
    res.failures.push({ case: `${group.name} (setup)`, message: `threw ${errorText(e)}` });
    if (comm.engine.failed && res.fatal === undefined) res.fatal = `setup: ${errorText(e)}`;
  }
  if (skipped > 0) res.failures.push({ case: `${group.name} (rest)`, message: `${skipped} case(s) not run: stopped after ${res.fatal}` });
  res.ms = Math.round(performance.now() - t0);
  return res;
}

/** A short pause that differs per rank: nonblocking calls must survive local awaits between them. */
export function localAwait(rank: number, ms = 15): Promise<void> {
  return rank % 2 === 0 ? new Promise((res) => setTimeout(res, ms)) : Promise.resolve();
}

/** Items of `all` picked so every item appears, cycling with `i` (covers a product's rows cheaply). */
export function pick<T>(all: readonly T[], i: number): T {
  return all[((i % all.length) + all.length) % all.length]!;
}

/** 0..n-1. */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
