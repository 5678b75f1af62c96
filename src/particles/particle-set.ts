/**
 * A sharded particle set: N particles of dimension D split over the ranks of a communicator in
 * contiguous blocks (uneven when N mod P ≠ 0: the first N mod P ranks hold one more), each rank
 * holding its shard in its pool's shared memory so pool workers can work on it in place, and
 * `gather()` bringing every particle to every rank (allgatherv) into one buffer allocated once
 * and reused by every step.
 *
 * ```ts
 * const ps = new ParticleSet(world, { n: 1000, dim: 2, pool: world.pool() });
 * ps.init((i, x) => world.rng("particle", i).fillNormal(x));   // layout-independent start
 * const all = await ps.gather();                                // n × dim, every rank
 * ```
 */
import { UsageError } from "../errors.js";
import type { Communicator } from "../groups/communicator.js";
import type { ComputePool } from "../compute/pool.js";
import { shardCounts, shardOffsets } from "./shards.js";

/** Options of a {@link ParticleSet}. */
export interface ParticleSetOptions {
  /** Number of particles (all ranks together), ≥ 1. */
  n: number;
  /** Dimension of each particle, ≥ 1. */
  dim: number;
  /** The rank's pool: shards and buffers live in its shared memory. */
  pool: ComputePool;
}

/** N particles sharded over a communicator. */
export class ParticleSet {
  /** Number of particles. */
  readonly n: number;
  /** Dimension. */
  readonly dim: number;
  /** Particles per rank (index = rank). */
  readonly counts: readonly number[];
  /** Global index of this rank's first particle. */
  readonly start: number;
  /** Number of particles on this rank. */
  readonly count: number;
  /** The communicator the set is sharded over. */
  readonly comm: Communicator;
  /** The pool whose memory holds the buffers. */
  readonly pool: ComputePool;
  /** This rank's particles, `count × dim`, row-major (in the pool's shared memory). */
  readonly local: Float64Array;
  readonly #all: Float64Array;
  readonly #elementCounts: number[];
  #freed = false;

  constructor(comm: Communicator, opts: ParticleSetOptions) {
    if (opts === null || typeof opts !== "object") throw new UsageError("a particle set needs { n, dim, pool }", { comm: comm.name, op: "particles" });
    const { n, dim, pool } = opts;
    if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`n must be a positive integer, got ${String(n)}`, { comm: comm.name, op: "particles" });
    if (!Number.isSafeInteger(dim) || dim < 1) throw new UsageError(`dim must be a positive integer, got ${String(dim)}`, { comm: comm.name, op: "particles" });
    if (!pool || typeof pool.alloc !== "function") throw new UsageError("pool must be a compute pool (world.pool())", { comm: comm.name, op: "particles" });
    this.comm = comm;
    this.pool = pool;
    this.n = n;
    this.dim = dim;
    this.counts = shardCounts(n, comm.size);
    this.start = shardOffsets(this.counts)[comm.rank]!;
    this.count = this.counts[comm.rank]!;
    this.#elementCounts = this.counts.map((c) => c * dim);
    this.local = pool.alloc(Float64Array, this.count * dim);
    this.#all = pool.alloc(Float64Array, n * dim);
  }

  /** Global indices of this rank's particles: `[start, start + count)`. */
  get range(): [number, number] {
    return [this.start, this.start + this.count];
  }

  /** Particle `i` of this rank's shard (global index `start + i`) as a view of {@link local}. */
  particle(i: number): Float64Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) throw new UsageError(`particle ${i} is outside this rank's 0..${this.count - 1}`, { op: "particles" });
    return this.local.subarray(i * this.dim, (i + 1) * this.dim);
  }

  /**
   * Sets every local particle with `fn(globalIndex, view)`; key random draws by the global index
   * (`world.rng("particle", i)`) and the start is the same for any number of ranks.
   */
  init(fn: (index: number, x: Float64Array) => void): this {
    this.#check("init");
    for (let i = 0; i < this.count; i++) fn(this.start + i, this.particle(i));
    return this;
  }

  /**
   * Collective: every particle on every rank, `n × dim` in global order, in a buffer allocated once
   * (each call overwrites it; copy what you keep).
   */
  async gather(): Promise<Float64Array> {
    this.#check("gather");
    return this.comm.allgatherv(this.local, this.#elementCounts, { out: this.#all });
  }

  /** The buffer {@link gather} fills (its contents are those of the last gather). */
  get all(): Float64Array {
    return this.#all;
  }

  /** Collective: every particle on `root` only (`n × dim`, a new array), undefined elsewhere. */
  async gatherTo(root = 0): Promise<Float64Array | undefined> {
    this.#check("gatherTo");
    return this.comm.gatherv(this.local, this.#elementCounts, root);
  }

  /** Gives the buffers back to the pool's memory. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.pool.free(this.local);
    this.pool.free(this.#all);
  }

  #check(op: string): void {
    if (this.#freed) throw new UsageError("the particle set was freed", { comm: this.comm.name, op: `particles.${op}` });
  }
}
