/**
 * Two-level parallelism as one call: `world.ensemble({ states, walkers })` deals independent
 * *states* (chains, models, temperatures) to *state groups* of ranks, and within a state runs the
 * *walkers'* work on the group's ranks and, inside each rank, on its compute pool — the nesting
 * Python's daemon-process pools cannot do (pyTransC works around it). It is a composition of
 * `mesh({ state: groups, walker: -1 })`, `world.pool()` and `world.rng()`:
 *
 * - the ranks of a group run the state's driver code together (SPMD) and agree on every step,
 *   because every random draw comes from a stream keyed by (state, key…) and every `map` returns
 *   the same results, in item order, to each of them;
 * - `ctx.map()` splits the walkers' items over the group's ranks in blocks, runs each block in
 *   the rank's pool, and allgathers the results within the group;
 * - the pool is the rank's one `world.pool()`, started once and reused by every iteration, state
 *   and run (a fresh pool per iteration costs ~5× here, see the benchmark);
 * - `run()` gathers each state's result to rank 0, indexed by state.
 *
 * Nothing in a state's result depends on the layout: 1 rank or 8, 1 group or 4, pools of any size.
 */
import { UsageError } from "../errors.js";
import type { Communicator } from "../groups/communicator.js";
import type { Mesh } from "../groups/mesh.js";
import type { ComputePool, MapOptions } from "../compute/pool.js";
import { Rng, type RngKey, type RngSeed } from "../rng/index.js";
import { shardCounts, shardOffsets } from "../particles/shards.js";

/** Options of `world.ensemble()`. The same on every rank. */
export interface EnsembleOptions {
  /** Number of states (independent problems), ≥ 1. */
  states: number;
  /** Walkers per state, ≥ 1 (what `ctx.map` items usually are). */
  walkers: number;
  /**
   * State groups: the ranks split into this many groups of equal size, each taking every
   * `groups`-th state. Must divide the rank count. Default: the largest divisor of the rank count
   * that is at most `states`.
   */
  groups?: number;
}

/** What an ensemble needs from the world (kept out of the options users see). */
export interface EnsembleHooks {
  /** The rank's compute pool (created once, reused). */
  pool(): ComputePool;
  /** The job's seed. */
  seed: RngSeed;
}

/** The default number of state groups: the largest divisor of `ranks` not above `states`. */
export function defaultGroups(ranks: number, states: number): number {
  for (let g = Math.min(ranks, states); g > 1; g--) if (ranks % g === 0) return g;
  return 1;
}

function positive(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) throw new UsageError(`${name} must be a positive integer, got ${String(v)}`, { op: "ensemble" });
  return v;
}

/** Divisors of n, for a message that says what fits. */
function divisors(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);
}

/** A layout of states × walkers over the ranks. Made by `world.ensemble()` (collective). */
export class Ensemble {
  /** Number of states. */
  readonly states: number;
  /** Walkers per state. */
  readonly walkers: number;
  /** Number of state groups. */
  readonly groups: number;
  /** This rank's group. */
  readonly group: number;
  /** The ranks of this rank's group (a communicator; rank 0 of it is the group's leader). */
  readonly comm: Communicator;
  /** The `{ state, walker }` mesh behind the layout. */
  readonly mesh: Mesh<Communicator>;
  /** States this rank's group runs, in order: `group`, `group + groups`, … */
  readonly myStates: readonly number[];
  readonly #world: Communicator;
  readonly #hooks: EnsembleHooks;

  private constructor(world: Communicator, mesh: Mesh<Communicator>, opts: { states: number; walkers: number; groups: number }, hooks: EnsembleHooks) {
    this.#world = world;
    this.#hooks = hooks;
    this.mesh = mesh;
    this.states = opts.states;
    this.walkers = opts.walkers;
    this.groups = opts.groups;
    this.group = mesh.coords.state!;
    this.comm = mesh.get("walker");
    this.myStates = Array.from({ length: opts.states }, (_, s) => s).filter((s) => s % opts.groups === this.group);
  }

  /** @internal use `world.ensemble()` */
  static async create(world: Communicator, opts: EnsembleOptions, hooks: EnsembleHooks): Promise<Ensemble> {
    if (opts === null || typeof opts !== "object") throw new UsageError("ensemble needs { states, walkers }", { comm: world.name, op: "ensemble" });
    const states = positive("states", opts.states);
    const walkers = positive("walkers", opts.walkers);
    const groups = opts.groups === undefined ? defaultGroups(world.size, states) : positive("groups", opts.groups);
    if (world.size % groups !== 0) {
      throw new UsageError(
        `${groups} state groups do not divide ${world.size} ranks; groups that fit: ${divisors(world.size)
          .filter((d) => d <= states)
          .join(", ")}`,
        { comm: world.name, op: "ensemble" },
      );
    }
    if (groups > states)
      throw new UsageError(`${groups} state groups for ${states} states would leave ${groups - states} group(s) idle; use at most ${states}`, { comm: world.name, op: "ensemble" });
    // One collective check that every rank has the same layout and seed: a rank with another
    // ZMPI_SEED would silently draw other numbers.
    const mine = JSON.stringify([states, walkers, groups, typeof hooks.seed === "bigint" ? `${hooks.seed}n` : hooks.seed]);
    const all = await world.allgather(mine);
    const odd = all.findIndex((x) => x !== mine);
    if (odd >= 0)
      throw new UsageError(`ranks disagree on [states, walkers, groups, seed]: rank ${world.rank} has ${mine}, rank ${odd} has ${all[odd]}`, { comm: world.name, op: "ensemble" });
    const mesh = await world.mesh({ state: groups, walker: world.size / groups });
    return new Ensemble(world, mesh, { states, walkers, groups }, hooks);
  }

  /** The group that runs `state`. */
  ownerOf(state: number): number {
    this.#checkState(state);
    return state % this.groups;
  }

  /** The rank's compute pool (the world's, reused by every state and iteration). */
  get pool(): ComputePool {
    return this.#hooks.pool();
  }

  /** The stream `world.rng("state", state, ...key)`. */
  rng(state: number, ...key: RngKey[]): Rng {
    this.#checkState(state);
    return Rng.create(this.#hooks.seed, "state", state, ...key);
  }

  /** This group rank's block of `n` items (walkers by default): `{ start, count }`. */
  block(n: number = this.walkers, rank: number = this.comm.rank): { start: number; count: number } {
    const counts = shardCounts(n, this.comm.size);
    return { start: shardOffsets(counts)[rank]!, count: counts[rank]! };
  }

  /**
   * Collective over every rank: runs `fn` for each of this group's states in turn (all ranks of
   * the group together) and gathers the group leaders' results to world rank 0, as an array
   * indexed by state. Other ranks get `undefined`.
   *
   * ```ts
   * const ens = await world.ensemble({ states: 4, walkers: 32 });
   * const summaries = await ens.run(async (s) => {
   *   const x = s.rng("init").fillNormal(new Float64Array(32 * dim));
   *   const lp = await s.map(new URL("./model.mjs", import.meta.url), "logProb", walkersOf(x));
   *   return { state: s.state, best: Math.max(...lp) };
   * });
   * ```
   */
  async run<R>(fn: (ctx: StateContext) => R | Promise<R>): Promise<R[] | undefined> {
    if (typeof fn !== "function") throw new UsageError("run needs a function (ctx) => result", { comm: this.#world.name, op: "ensemble.run" });
    const mine: Array<[number, R]> = [];
    for (const s of this.myStates) {
      const r = await fn(new StateContext(this, s));
      if (this.comm.rank === 0) mine.push([s, r]);
    }
    const all = await this.#world.gather(mine, 0);
    if (!all) return undefined;
    const out = new Array<R>(this.states);
    for (const part of all) for (const [s, r] of part) out[s] = r;
    return out;
  }

  #checkState(state: number): void {
    if (!Number.isInteger(state) || state < 0 || state >= this.states) throw new UsageError(`state ${state} is outside 0..${this.states - 1}`, { op: "ensemble" });
  }
}

/** One state as its group's ranks see it inside `ensemble.run()`. */
export class StateContext {
  /** The state's index. */
  readonly state: number;
  readonly #ens: Ensemble;

  /** @internal made by `Ensemble.run` */
  constructor(ens: Ensemble, state: number) {
    this.#ens = ens;
    this.state = state;
  }

  /** Walkers per state. */
  get walkers(): number {
    return this.#ens.walkers;
  }

  /** The group's communicator (all ranks running this state). */
  get comm(): Communicator {
    return this.#ens.comm;
  }

  /** True on the group's rank 0 (the one whose result `run` keeps; a good place to log). */
  get isLeader(): boolean {
    return this.#ens.comm.rank === 0;
  }

  /** The stream `world.rng("state", state, ...key)`: the same on every rank of the group. */
  rng(...key: RngKey[]): Rng {
    return this.#ens.rng(this.state, ...key);
  }

  /**
   * Collective over the group: `exportName` of `moduleUrl` on every item, the items split in
   * blocks over the group's ranks and each block run in that rank's pool; every rank of the group
   * gets all results, in item order. The function must be pure for the layout not to matter.
   * `opts.chunkSize` defaults to one chunk per pool worker.
   */
  async map<T, R = unknown>(moduleUrl: string | URL, exportName: string, items: readonly T[], opts: MapOptions = {}): Promise<R[]> {
    if (!Array.isArray(items)) throw new UsageError("items must be an array", { comm: this.comm.name, op: "ensemble.map" });
    const comm = this.#ens.comm;
    const { start, count } = this.#ens.block(items.length);
    const pool = this.#ens.pool;
    const chunkSize = opts.chunkSize ?? Math.max(1, Math.ceil(count / pool.size));
    const mine = count > 0 ? await pool.map<T, R>(moduleUrl, exportName, items.slice(start, start + count), { ...opts, chunkSize, ordered: true }) : [];
    if (comm.size === 1) return mine;
    return (await comm.allgather(mine)).flat() as R[];
  }
}
