/**
 * Stein variational gradient descent (Liu & Wang, 2016) on a {@link ParticleSet}: each step moves
 * every particle along φ(x_i) = (1/N) Σ_j [k(x_j, x_i) ∇log p(x_j) + ∇_{x_j} k(x_j, x_i)] with the
 * RBF kernel k(x, y) = exp(−‖x − y‖² / h) and the median heuristic h = med / ln(N + 1), med the
 * median squared distance between particles (as Liu & Wang's code: h² there is med / (2 ln(N+1))).
 *
 * Per step, on each rank: allgatherv the positions (into a reused buffer); ∇log p of the local
 * shard in the pool (the user's module); allgatherv the gradients; squared distances of the local
 * rows in the pool; the exact median by a distributed radix select (select.ts); φ of the local
 * rows in the pool (WASM SIMD kernels on the pool's shared memory, with a bit-identical JS path);
 * x += ε φ. Every number is computed by the same loop whatever the split, so
 * the particles after any number of steps are bit-identical to a single-process run.
 *
 * ```ts
 * const ps = new ParticleSet(world, { n: 500, dim: 2, pool: world.pool() });
 * ps.init((i, x) => world.rng("particle", i).fillNormal(x));
 * const svgd = new Svgd(ps, { grad: { module: new URL("./target.mjs", import.meta.url), name: "gradLogP" }, stepSize: 0.05 });
 * for (let t = 0; t < 200; t++) await svgd.step();
 * ```
 */
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "../errors.js";
import { computeMemory } from "../compute/memory.js";
import type { WasmMemory } from "../compute/wasm-api.js";
import type { ParticleSet } from "./particle-set.js";
import { selectKth } from "./select.js";
import { shardCounts, shardOffsets } from "./shards.js";
import type { DistanceTask, PhiTask } from "./svgd-kernel.js";

/** The kernels' module, as the pool's workers import it (.ts under tsx, .js once built). */
const KERNELS = new URL(`./svgd-kernel${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/** What a gradient function receives in a pool worker: rows of this rank's particles and where to write. */
export interface GradTask {
  /** Particles, rows × dim (a view of shared memory). */
  x: Float64Array;
  /** Output ∇log p, rows × dim (a view of shared memory). */
  g: Float64Array;
  rows: number;
  dim: number;
  /** Global index of the first row. */
  index0: number;
}

/** Options of {@link Svgd}. */
export interface SvgdOptions {
  /** ∇log p: `name` exported by `module`, called in pool workers as `fn(task: GradTask)`, writing `task.g`. */
  grad: { module: string | URL; name: string };
  /** Step size ε. Default 0.1. */
  stepSize?: number;
}

/** What a step did (the same on every rank). */
export interface SvgdStepInfo {
  /** Steps done so far. */
  step: number;
  /** The median squared distance between particles. */
  medianSq: number;
  /** The bandwidth h used. */
  h: number;
}

/** SVGD on a sharded particle set; see the module comment. */
export class Svgd {
  readonly #ps: ParticleSet;
  readonly #grad: { module: string | URL; name: string };
  readonly #eps: number;
  readonly #gLocal: Float64Array;
  readonly #gAll: Float64Array;
  readonly #d: Float64Array;
  readonly #phi: Float64Array;
  readonly #acc: Float64Array;
  readonly #memory: WasmMemory | undefined;
  #steps = 0;

  constructor(ps: ParticleSet, opts: SvgdOptions) {
    if (!opts?.grad || typeof opts.grad.name !== "string" || !opts.grad.module)
      throw new UsageError("svgd needs grad: { module, name } (a module exporting the gradient of log p)", { comm: ps.comm.name, op: "svgd" });
    const eps = opts.stepSize ?? 0.1;
    if (typeof eps !== "number" || !Number.isFinite(eps) || eps <= 0)
      throw new UsageError(`stepSize must be a positive number, got ${String(eps)}`, { comm: ps.comm.name, op: "svgd" });
    this.#ps = ps;
    this.#grad = opts.grad;
    this.#eps = eps;
    const pool = ps.pool;
    this.#gLocal = pool.alloc(Float64Array, ps.count * ps.dim);
    this.#gAll = pool.alloc(Float64Array, ps.n * ps.dim);
    this.#d = pool.alloc(Float64Array, ps.count * ps.n);
    this.#phi = pool.alloc(Float64Array, ps.count * ps.dim);
    this.#acc = pool.alloc(Float64Array, 2 * ps.dim * pool.size);
    // The workers run the WASM kernels on this memory (the pool's: every buffer above lives in it).
    const mem = computeMemory();
    this.#memory = mem.contains(this.#phi) && mem.contains(ps.local) ? mem.memory : undefined;
  }

  /** Bytes of shared memory one rank needs for `n` particles of dimension `dim` with `count` local (set + SVGD buffers). */
  static bytesPerRank(n: number, dim: number, count: number): number {
    return 8 * (count * dim * 3 + n * dim * 2 + count * n);
  }

  /** Steps done so far. */
  get steps(): number {
    return this.#steps;
  }

  /** Collective: one SVGD step of every particle. */
  async step(): Promise<SvgdStepInfo> {
    const ps = this.#ps;
    const { n, dim, count, start } = ps;
    const pool = ps.pool;
    // Local rows split over the pool's workers, one task each.
    const parts = shardCounts(count, Math.max(1, Math.min(pool.size, count)));
    const offs = shardOffsets(parts);
    const slices = parts.map((rows, w) => ({ a: offs[w]!, rows })).filter((s) => s.rows > 0);

    const X = await ps.gather();
    const grads: GradTask[] = slices.map(({ a, rows }) => ({
      x: ps.local.subarray(a * dim, (a + rows) * dim),
      g: this.#gLocal.subarray(a * dim, (a + rows) * dim),
      rows,
      dim,
      index0: start + a,
    }));
    await pool.map(this.#grad.module, this.#grad.name, grads);
    const G = await ps.comm.allgatherv(
      this.#gLocal,
      ps.counts.map((c) => c * dim),
      { out: this.#gAll },
    );

    const memory = this.#memory;
    const dist: DistanceTask[] = slices.map(({ a, rows }) => ({ X, D: this.#d.subarray(a * n, (a + rows) * n), n, dim, row0: start + a, rows, memory }));
    await pool.map(KERNELS, "distances", dist);
    // The k-th smallest of all n² entries with k = n + n(n−1)/2 is the lower median of the
    // n(n−1)/2 pair distances: the n self-distances are zeros and come first.
    const medianSq = n > 1 ? await selectKth(ps.comm, this.#d, n + (n * (n - 1)) / 2) : 0;
    const h = medianSq > 0 ? medianSq / Math.log(n + 1) : 1;

    const phi: PhiTask[] = dist.map((t, i) => ({
      ...t,
      G,
      h,
      Phi: this.#phi.subarray(slices[i]!.a * dim, (slices[i]!.a + slices[i]!.rows) * dim),
      acc: this.#acc.subarray(2 * dim * i, 2 * dim * (i + 1)),
    }));
    await pool.map(KERNELS, "phiRows", phi);
    const x = ps.local;
    for (let i = 0; i < count * dim; i++) x[i] = x[i]! + this.#eps * this.#phi[i]!;
    return { step: ++this.#steps, medianSq, h };
  }

  /** Gives the buffers back to the pool's memory (the particle set keeps its own). */
  free(): void {
    const pool = this.#ps.pool;
    for (const b of [this.#gLocal, this.#gAll, this.#d, this.#phi, this.#acc]) pool.free(b);
  }
}
