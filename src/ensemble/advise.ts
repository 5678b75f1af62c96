/**
 * Resource advice before a run, as users of ensemble samplers ask for it: given the problem
 * (states, walkers, particles, memory per task) and the resources (this machine, or a Slurm
 * allocation, present or about to be requested), a layout (ranks, state groups, walkers and
 * particles per rank, pool size, the launch/srun/sbatch lines) and the checks a cluster-config
 * validator would make: does the work divide evenly (and what would), does the memory fit
 * (refused above 80% of what is available), are cores oversubscribed, is the machine busy.
 * Pure: every input is in the arguments, so each rule has a unit test. `zmpi advise` prints it.
 */
import { UsageError } from "../errors.js";
import { shardCounts } from "../particles/shards.js";
import { defaultGroups } from "./ensemble.js";

/** The problem to lay out. Every field is optional; checks run for what is given. */
export interface Problem {
  /** Independent states (chains, models). */
  states?: number;
  /** Walkers per state. */
  walkers?: number;
  /** Particles (sharded over all ranks). */
  particles?: number;
  /** Dimension of a walker or particle (stretch-move and SVGD memory checks). */
  dim?: number;
  /** Memory each rank needs for the user's own data, bytes. */
  memPerTask?: number;
  /** Ranks wanted (default: chosen from the resources). */
  ranks?: number;
  /** The script, for the printed commands (default `app.ts`). */
  script?: string;
}

/** What the job may use. */
export interface Resources {
  /** `machine`: this host (node:os); `slurm`: the allocation in SLURM_*; `request`: one about to be asked for. */
  source: "machine" | "slurm" | "request";
  /** Nodes. */
  nodes: number;
  /** CPUs (cores) usable on each node. */
  cpusPerNode: number;
  /** Ranks on each node, when the allocation fixes it. */
  tasksPerNode?: number;
  /** CPUs per rank, when the allocation fixes it (`-c`). */
  cpusPerTask?: number;
  /** Memory available on each node, bytes (unknown: undefined). */
  memPerNode?: number;
  /** 1-minute load average of this machine (machine only). */
  load?: number;
}

/** One check's outcome: `error` means refuse to run as is. */
export interface Check {
  rule: "divisibility" | "memory" | "oversubscription" | "load" | "walkers";
  level: "ok" | "warn" | "error";
  message: string;
}

/** The recommended layout. */
export interface Layout {
  ranks: number;
  nodes: number;
  ranksPerNode: number;
  /** Threads in each rank's compute pool. */
  poolSize: number;
  /** State groups and ranks in each. */
  groups: number;
  ranksPerGroup: number;
  /** States each group runs (most, fewest). */
  statesPerGroup?: [number, number];
  /** Walkers in each rank's block (most, fewest). */
  walkersPerRank?: [number, number];
  /** Particles in each rank's shard (most, fewest). */
  particlesPerRank?: [number, number];
  /** Estimated memory per rank and per node, bytes. */
  memPerRank: number;
  memPerNode: number;
}

/** What {@link advise} says. */
export interface Advice {
  ok: boolean;
  resources: Resources;
  layout: Layout;
  commands: { launch: string; srun: string; sbatch: string[] };
  checks: Check[];
}

/** The share of available memory above which a layout is refused. */
export const MEMORY_LIMIT = 0.8;
/** Estimated memory of a rank's Node runtime and of each pool thread, bytes (RSS measured here: ~60 MB and ~10 MB). */
const RANK_OVERHEAD_BYTES = 64 * 2 ** 20;
const THREAD_OVERHEAD_BYTES = 16 * 2 ** 20;
/** A machine whose load average is above this share of its cores is reported as busy. */
const BUSY_LOAD = 0.5;

function count(name: string, v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isSafeInteger(v) || v < 1) throw new UsageError(`${name} must be a positive integer, got ${String(v)}`, { op: "advise" });
  return v;
}

/** "21/22" (fewest/most) or "16" of a split. */
function spread([most, fewest]: [number, number]): string {
  return most === fewest ? `${most}` : `${fewest}/${most}`;
}

function extremes(counts: number[]): [number, number] {
  return [Math.max(...counts), Math.min(...counts)];
}

/**
 * Part counts near `parts` (the nearest below and above, up to `max`) that split `items` evenly
 * and that `fits` allows (state groups must also divide the rank count).
 */
export function evenAlternatives(items: number, parts: number, max: number, fits: (p: number) => boolean = () => true): number[] {
  const ok = (p: number) => items % p === 0 && fits(p);
  const below = Array.from({ length: parts - 1 }, (_, i) => parts - 1 - i).find((p) => p > 1 && ok(p));
  let above: number | undefined;
  for (let p = parts + 1; p <= max; p++) {
    if (ok(p)) {
      above = p;
      break;
    }
  }
  return [below, above].filter((p): p is number => p !== undefined);
}

/** The divisibility check of `items` over `parts` (a warning with what would divide evenly). */
export function divisibility(items: number, what: string, parts: number, unit: string, max: number, fits?: (p: number) => boolean): Check {
  const split = extremes(shardCounts(items, parts));
  if (items % parts === 0) return { rule: "divisibility", level: "ok", message: `${items} ${what} over ${parts} ${unit}: ${split[0]} each` };
  const alts = evenAlternatives(items, parts, max, fits);
  const advice = alts.length ? `; ${alts.join(" or ")} ${unit} divide evenly` : "";
  const idle = items < parts ? ` (${parts - items} ${unit} get none)` : "";
  return {
    rule: "divisibility",
    level: "warn",
    message: `${items} ${what} over ${parts} ${unit} leaves ${what === "particles" ? "shards" : "blocks"} of ${spread(split)}${idle}${advice}`,
  };
}

/** The ranks and pool size the resources give or suggest. */
function chooseRanks(p: Problem, r: Resources): { ranks: number; pool: number } {
  const cores = r.nodes * r.cpusPerNode;
  if (r.tasksPerNode !== undefined) {
    const ranks = r.nodes * r.tasksPerNode;
    return { ranks, pool: r.cpusPerTask ?? Math.max(1, Math.floor(r.cpusPerNode / r.tasksPerNode)) };
  }
  let ranks = p.ranks;
  if (ranks === undefined) {
    if (p.states !== undefined) {
      // One state group per state while cores last; a count that divides the states, per node.
      const cap = Math.min(p.states, cores);
      ranks = Array.from({ length: cap }, (_, i) => cap - i).find((g) => p.states! % g === 0 && g % r.nodes === 0) ?? Math.max(r.nodes, cap - (cap % r.nodes));
    } else if (p.particles !== undefined) {
      const cap = Math.min(p.particles, cores);
      ranks = Array.from({ length: cap }, (_, i) => cap - i).find((g) => p.particles! % g === 0 && g % r.nodes === 0 && g * 2 > cap) ?? cap;
    } else ranks = cores;
  }
  const perNode = Math.ceil(ranks / r.nodes);
  return { ranks, pool: r.cpusPerTask ?? Math.max(1, Math.floor(r.cpusPerNode / perNode)) };
}

function mib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${Math.ceil(bytes / 2 ** 20)} MiB`;
}

/**
 * The advice for `problem` on `resources`. Throws a UsageError for malformed input; a layout that
 * should not run comes back with `ok: false` and the reason among `checks`.
 *
 * ```ts
 * const a = advise({ states: 4, walkers: 32, memPerTask: 2 ** 30 }, detectResources());
 * if (!a.ok) throw new Error(a.checks.filter((c) => c.level === "error").map((c) => c.message).join("; "));
 * ```
 */
export function advise(problem: Problem, resources: Resources): Advice {
  const states = count("states", problem.states);
  const walkers = count("walkers", problem.walkers);
  const particles = count("particles", problem.particles);
  const dim = count("dim", problem.dim);
  count("ranks", problem.ranks);
  count("nodes", resources.nodes);
  count("cpusPerNode", resources.cpusPerNode);
  count("tasksPerNode", resources.tasksPerNode);
  count("cpusPerTask", resources.cpusPerTask);
  if (problem.memPerTask !== undefined && !(problem.memPerTask >= 0))
    throw new UsageError(`memPerTask must be a non-negative number of bytes, got ${problem.memPerTask}`, { op: "advise" });

  const { ranks, pool } = chooseRanks(problem, resources);
  const nodes = Math.min(resources.nodes, ranks);
  const ranksPerNode = Math.ceil(ranks / nodes);
  const groups = states !== undefined ? defaultGroups(ranks, states) : 1;
  const ranksPerGroup = ranks / groups;
  const maxRanks = Math.max(2 * ranks, resources.nodes * resources.cpusPerNode);
  const checks: Check[] = [];
  const layout: Layout = { ranks, nodes, ranksPerNode, poolSize: pool, groups, ranksPerGroup, memPerRank: 0, memPerNode: 0 };

  // Divisibility: states over groups, walkers over a group's ranks and their pools, particles over ranks.
  if (states !== undefined) {
    layout.statesPerGroup = extremes(shardCounts(states, groups));
    checks.push(divisibility(states, "states", groups, "state groups", Math.min(states, ranks), (g) => ranks % g === 0));
  }
  if (walkers !== undefined) {
    layout.walkersPerRank = extremes(shardCounts(walkers, ranksPerGroup));
    checks.push(divisibility(walkers, "walkers", ranksPerGroup, "ranks per state group", Math.max(2 * ranksPerGroup, ranksPerGroup)));
    const block = layout.walkersPerRank[0];
    if (block < pool)
      checks.push({
        rule: "divisibility",
        level: "warn",
        message: `a rank's block of ${block} walkers keeps only ${block} of its ${pool} pool threads busy; use a pool of ${block} or more walkers`,
      });
    if (walkers % 2 === 1) checks.push({ rule: "walkers", level: "warn", message: `${walkers} walkers: the stretch move updates two halves in turn; use an even number` });
    if (dim !== undefined && walkers < 2 * dim)
      checks.push({
        rule: "walkers",
        level: "error",
        message: `${walkers} walkers for ${dim} dimensions: the stretch move needs at least 2 × dim = ${2 * dim} (an ensemble of fewer spans a subspace only)`,
      });
  }
  if (particles !== undefined) {
    layout.particlesPerRank = extremes(shardCounts(particles, ranks));
    checks.push(divisibility(particles, "particles", ranks, "ranks", maxRanks));
  }

  // Memory: the user's per-task figure, SVGD's buffers, and the runtime's own.
  const svgd = particles !== undefined ? 8 * (layout.particlesPerRank![0] * (dim ?? 2) * 3 + particles * (dim ?? 2) * 2 + layout.particlesPerRank![0] * particles) : 0;
  layout.memPerRank = (problem.memPerTask ?? 0) + svgd + RANK_OVERHEAD_BYTES + pool * THREAD_OVERHEAD_BYTES;
  layout.memPerNode = layout.memPerRank * ranksPerNode;
  if (resources.memPerNode === undefined) {
    checks.push({
      rule: "memory",
      level: "warn",
      message: `memory not checked: the available memory is unknown (${resources.source === "request" ? "pass --mem" : "the allocation sets no memory"}); needs about ${mib(layout.memPerNode)} per node`,
    });
  } else {
    const share = layout.memPerNode / resources.memPerNode;
    const what = `${ranksPerNode} rank(s) × ${mib(layout.memPerRank)} = ${mib(layout.memPerNode)} per node of ${mib(resources.memPerNode)} available (${(share * 100).toFixed(0)}%)`;
    if (share > MEMORY_LIMIT) {
      const fit = Math.floor((MEMORY_LIMIT * resources.memPerNode) / layout.memPerRank);
      checks.push({
        rule: "memory",
        level: "error",
        message: `${what}: above ${MEMORY_LIMIT * 100}%, refused; ${fit >= 1 ? `at most ${fit} rank(s) per node fit, or ` : ""}use more nodes or less memory per task`,
      });
    } else checks.push({ rule: "memory", level: "ok", message: what });
  }

  // Oversubscription: threads per node against cores per node; a busy machine.
  const threads = ranksPerNode * pool;
  if (threads > resources.cpusPerNode) {
    const fitPool = Math.max(1, Math.floor(resources.cpusPerNode / ranksPerNode));
    const level = ranksPerNode > resources.cpusPerNode ? "error" : "warn";
    checks.push({
      rule: "oversubscription",
      level,
      message: `${ranksPerNode} rank(s) × pool ${pool} = ${threads} threads on ${resources.cpusPerNode} cores per node (${(threads / resources.cpusPerNode).toFixed(1)}× oversubscribed); ${ranksPerNode <= resources.cpusPerNode ? `use a pool of ${fitPool}` : `use at most ${resources.cpusPerNode} ranks per node`}`,
    });
  } else checks.push({ rule: "oversubscription", level: "ok", message: `${ranksPerNode} rank(s) × pool ${pool} = ${threads} threads on ${resources.cpusPerNode} cores per node` });
  if (resources.load !== undefined && resources.load > BUSY_LOAD * resources.cpusPerNode) {
    checks.push({
      rule: "load",
      level: "warn",
      message: `this machine is busy: load ${resources.load.toFixed(1)} on ${resources.cpusPerNode} cores; fewer cores are free than counted and timings will be noisy`,
    });
  }

  const script = problem.script ?? "app.ts";
  const node = /\.(c|m)?tsx?$/.test(script) ? `node --import tsx ${script}` : `node ${script}`;
  const tpn = `--ntasks-per-node=${ranksPerNode}`;
  return {
    ok: !checks.some((c) => c.level === "error"),
    resources,
    layout,
    commands: {
      launch: `npx zmpi launch -n ${ranks}${nodes > 1 ? ` --nodes ${nodes}` : ""} ${script}`,
      srun: `srun -N${nodes} ${tpn} -c ${pool} ${node}`,
      sbatch: [`#SBATCH --nodes=${nodes}`, `#SBATCH ${tpn}`, `#SBATCH --cpus-per-task=${pool}`, `#SBATCH --mem=${Math.ceil(layout.memPerNode / MEMORY_LIMIT / 2 ** 20)}M`],
    },
    checks,
  };
}
