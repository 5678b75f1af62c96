/**
 * The world: the communicator of every rank, plus what a process has once (its environment, logger,
 * control channel, and the finalize that shuts it all down).
 */
import { performance } from "node:perf_hooks";
import { TimeoutError } from "../errors.js";
import { runBarrier } from "../collectives/barrier.js";
import { Communicator } from "../groups/communicator.js";
import type { Mesh, MeshOptions } from "../groups/mesh.js";
import type { MeshEnvOptions } from "../groups/mesh-env.js";
import type { Engine, ContextState } from "../comm/engine.js";
import { readSetting, SETTINGS, type Settings, type SettingSpec } from "../env/settings.js";
import { codeCacheAfterFinalize } from "../env/code-cache-hook.js";
import type { RankEnvironment } from "../env/types.js";
import type { TransportStats } from "../transport/transport.js";
import type { Logger } from "./logger.js";
import { createPool, type ComputePool, type PoolOptions } from "../compute/pool.js";
import { dirname, join, resolve } from "node:path";
import { ResultsWriter, type ResultsOptions } from "../results/results.js";
import { Farm, type FarmOptions } from "../results/farm/farm.js";
import { openManifests } from "../results/manifest.js";
import { buildReport, formatMetricsTable, gatherMetrics, writeMetrics, type RankMetrics } from "../results/metrics.js";
import { DEFAULT_SEED, Rng, type RngKey, type RngSeed } from "../rng/index.js";
import { Ensemble, type EnsembleOptions } from "../ensemble/index.js";

/**
 * How long after a failure finalize keeps this rank's sockets open, so the failure spreads first:
 * the abort takes milliseconds; half of init's default exit grace (1 s), so a rank that exits on
 * failure still prints what finalize rejected with.
 */
const FAILURE_SPREAD_MS = 500;

/** Things `finalize()` must close, owned by `init()`. */
export interface WorldResources {
  /** Waits until every rank has entered finalize (no-op for a world of size 1). */
  goodbye(): Promise<void>;
  /** Closes sockets, services, handlers. */
  close(): Promise<void>;
  /** The settings `init()` read (a world made without `init()` reads `process.env` when it needs one). */
  settings?: Settings;
}

/** Options of {@link World.finalize}. */
export interface FinalizeOptions {
  /** Deadline for every rank to reach finalize, in ms (default `ZMPI_TIMEOUT`). */
  timeoutMs?: number;
  /**
   * Gather metrics to rank 0 at finalize (see {@link World.metrics}). Default: on when the job used
   * `results()`, or `ZMPI_METRICS=1`, or `ZMPI_METRICS_DIR` is set. Must be the same on every rank.
   */
  metrics?: boolean | MetricsOptions;
}

/** Options of {@link World.metrics}. */
export interface MetricsOptions {
  /** Directory for `metrics.json` (default `ZMPI_METRICS_DIR`, else each results output's directory; none: not written). */
  dir?: string;
  /** Print one table on rank 0 (default: `ZMPI_METRICS=1`). */
  print?: boolean;
}

/** The world communicator and the process-wide services. */
export class World extends Communicator {
  /** What was detected about this rank (launcher, node, coordinator). */
  readonly env: RankEnvironment;
  /** Rank-aware logger: `info` prints once, `all` on every rank. */
  readonly log: Logger;
  private finalized: Promise<void> | null = null;
  #failedAt: number | null = null;
  private computePool: ComputePool | null = null;
  private readonly outputs: ResultsWriter[] = [];

  /** Seed of {@link rng}: `init({ seed })`, else `ZMPI_SEED`, else 0 (the same on every rank). */
  readonly seed: RngSeed;

  /** @internal use `init()` */
  constructor(
    engine: Engine,
    ctx: ContextState,
    env: RankEnvironment,
    log: Logger,
    private readonly resources: WorldResources,
    seed: RngSeed = DEFAULT_SEED,
  ) {
    super(engine, ctx);
    this.env = env;
    this.log = log;
    this.seed = seed;
    engine.onFailure(() => {
      this.#failedAt ??= performance.now();
    });
  }

  /**
   * {@link Communicator.mesh}; with `"env"`, the shape and placement are `ZMPI_MESH` and
   * `ZMPI_MESH_PLACEMENT` as `init()` read them (so `init({ env })` sets them too). Collective.
   *
   * ```ts
   * const mesh = await world.mesh<"pp" | "tp">("env");   // ZMPI_MESH=pp:2,tp:2
   * ```
   */
  override mesh<D extends string>(dims: Record<D, number> | "env", opts: MeshOptions & MeshEnvOptions = {}): Promise<Mesh<Communicator> & { readonly [K in D]: Communicator }> {
    const s = this.resources.settings;
    if (dims !== "env" || opts.env !== undefined || !s) return super.mesh(dims, opts);
    return super.mesh(dims, { ...opts, env: { ZMPI_MESH: s.mesh, ZMPI_MESH_PLACEMENT: s.meshPlacement } });
  }

  /** A setting as `init()` read it; a world made without `init()` reads `process.env`. */
  #setting<K extends keyof Settings>(key: K): Settings[K] {
    const read = this.resources.settings;
    return read ? read[key] : (readSetting(SETTINGS[key] as SettingSpec<unknown>) as Settings[K]);
  }

  /**
   * A reproducible random stream named by `key` (strings and integers): a pure function of the
   * job's {@link seed} and the key path, never of the rank, the rank count, the pool size or the
   * scheduling, so any rank or worker that asks for `rng("walker", 7)` draws the same numbers.
   * Not collective; cheap (one hash per key element).
   *
   * ```ts
   * const r = world.rng("state", s, "walker", w);
   * const x0 = r.fillNormal(new Float64Array(dim));   // bulk: WASM SIMD
   * const accept = Math.log(r.uniform()) < logRatio;
   * ```
   */
  rng(...key: RngKey[]): Rng {
    return Rng.create(this.seed, ...key);
  }

  /**
   * Two-level parallelism: `states` independent states dealt to state groups of ranks (a
   * `{ state, walker }` mesh), each state's `walkers` run on its group's ranks and their pools
   * (this rank's {@link pool}, reused across iterations and runs), per-state results gathered to
   * rank 0 by `run()`. Collective; checks that every rank has the same layout and seed.
   *
   * ```ts
   * const ens = await world.ensemble({ states: 4, walkers: 32 });   // groups: default
   * const perState = await ens.run(async (s) => {
   *   const lp = await s.map(new URL("./model.mjs", import.meta.url), "logProb", walkers);
   *   return summarize(lp);
   * });
   * if (world.rank === 0) console.log(perState);   // indexed by state
   * ```
   */
  ensemble(opts: EnsembleOptions): Promise<Ensemble> {
    return Ensemble.create(this, opts, { pool: () => this.pool(), seed: this.seed });
  }

  /** Machine host name (`os.hostname()`). */
  get hostname(): string {
    return this.env.hostname;
  }

  /** Node name (Slurm's `SLURMD_NODENAME`, or the launcher's pretend node). */
  get node(): string {
    return this.env.nodeName;
  }

  /** Index of this rank's node, 0-based. */
  get nodeIndex(): number {
    return this.env.nodeIndex;
  }

  /** Rank among the ranks on this node. */
  get localRank(): number {
    return this.env.localRank;
  }

  /** Number of ranks on this node. */
  get localSize(): number {
    return this.env.localSize;
  }

  /**
   * This rank's compute pool (worker_threads over shared WASM memory), created on first use. Its
   * size comes from `SLURM_CPUS_PER_TASK`, else CPUs ÷ ranks on this node, unless `opts.size` says.
   * Options only apply to the first call. `finalize()` closes it.
   */
  pool(opts: PoolOptions = {}): ComputePool {
    if (!this.computePool || this.computePool.isClosed) {
      this.computePool = createPool({ cpusPerTask: this.env.cpusPerTask, ranksOnNode: this.env.localSize, ...opts });
    }
    return this.computePool;
  }

  /**
   * A results table: every rank appends, `flush()` (collective) gathers the rows to rank 0, which
   * alone writes (`jsonl`, `csv` or `parquet`, by `opts.format` or the path's extension): it appends
   * the flush's rows to a staged copy, fsyncs, and renames it into place, and keeps `manifest.json`
   * beside it. CSV and JSONL are one file; Parquet is a directory of parts (`<path>/part-000000.parquet`,
   * one per flush). A flush rank 0 cannot write rejects everywhere with `ResultsWriteError`, changes
   * nothing on disk and keeps its rows for the next flush. Call it on every rank; `finalize()`
   * closes tables still open.
   *
   * @example
   * ```ts
   * const table = world.results("out/scores.parquet");
   * table.append({ step: 1, loss: 0.25 });
   * await table.flush(); // out/scores.parquet/part-000000.parquet
   * ```
   */
  results(path: string, opts: ResultsOptions = {}): ResultsWriter {
    const w = new ResultsWriter(this, path, opts, { onFailure: (l) => this.engine.onFailure(l) });
    this.outputs.push(w);
    return w;
  }

  /**
   * A task farm over every rank (rank 0 submits, the others serve). Collective and async: it makes
   * a private communicator (`dup()`), so farm messages never meet user messages. Every rank must
   * later call `farm.close()`.
   */
  async farm(opts: FarmOptions = {}): Promise<Farm> {
    return new Farm(await this.dup(`${this.name}.farm`), opts);
  }

  /**
   * Collective: every rank's metrics (wall time, time in collectives and point-to-point, messages
   * and bytes, peak RSS, CPU, host, pid) on rank 0, written to `metrics.json` and printed as one
   * table when asked. Resolves with the array on rank 0, undefined elsewhere.
   */
  async metrics(opts: MetricsOptions = {}): Promise<RankMetrics[] | undefined> {
    const ranks = await gatherMetrics(this, { rank: this.rank, node: this.node, counters: this.engine.counters, transport: () => this.transportStats() });
    if (!ranks) return undefined;
    const dirEnv = this.#setting("metricsDir");
    const dirs = opts.dir !== undefined ? [opts.dir] : dirEnv ? [dirEnv] : [...new Set(this.outputs.map((o) => dirname(o.path)))];
    if (dirs.length > 0) {
      const report = buildReport(ranks, dirs);
      for (const d of dirs) writeMetrics(join(d, "metrics.json"), report);
      for (const m of openManifests()) if (dirs.some((d) => resolve(d) === dirname(m.path))) m.metrics("metrics.json");
    }
    if (opts.print ?? this.#setting("metrics")) process.stdout.write(`${formatMetricsTable(ranks)}\n`);
    return ranks;
  }

  /** Transport counters (messages, bytes, dropped frames, refused connections). */
  transportStats(): TransportStats {
    return this.engine.transport.stats();
  }

  /**
   * World ranks that receive this rank's large typed arrays by copying them straight out of its
   * memory (same machine, Linux cross-memory attach); see {@link singleCopySupport}.
   */
  singleCopyPeers(): number[] {
    return this.engine.transport.singleCopyPeers?.() ?? [];
  }

  /** True once `finalize()` has been called. */
  get isFinalized(): boolean {
    return this.finalized !== null;
  }

  /**
   * Collective shutdown: takes its place in the world's collective sequence like any collective
   * (a rank that calls it while another is inside a different collective makes both fail at once
   * with `CollectiveMismatchError` naming both calls), closes open results tables, gathers metrics
   * when asked, waits until every rank has called it, then closes every socket so the process can
   * exit on its own. After a failure (with `onFailure: "throw"`) it still closes everything, then
   * rejects with the failure. Calling it again returns the same promise.
   * @example await world.finalize();
   */
  finalize(opts: FinalizeOptions = {}): Promise<void> {
    if (!this.finalized) this.finalized = this.doFinalize(opts.timeoutMs ?? this.engine.config.timeoutMs, opts.metrics);
    return this.finalized;
  }

  private async doFinalize(timeoutMs: number, metrics: FinalizeOptions["metrics"]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      // Inside the try: after a failure the sockets must close all the same, or the process never exits.
      this.engine.check();
      await runBarrier(this.collectiveSequence, { timeoutMs }, "finalize");
      // Collective work next, while every peer is still there: close open tables, gather metrics.
      for (const o of this.outputs) if (!o.closed) await o.close();
      const wantMetrics = metrics ?? (this.outputs.length > 0 || this.#setting("metrics") || !!this.#setting("metricsDir"));
      if (wantMetrics) await this.metrics(typeof wantMetrics === "object" ? wantMetrics : {});
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(this.finalizeTimeout(timeoutMs)), timeoutMs);
      });
      const failed = new Promise<never>((_, reject) => this.engine.onFailure(reject));
      await Promise.race([this.resources.goodbye(), deadline, failed]);
    } finally {
      clearTimeout(timer);
      // A failure reaches the other ranks through the coordinator; closing this rank's sockets right
      // after it could beat it there, and they would blame this rank's closed connection instead
      // (seen on 3 ranks: "the coordinator closed its connection", "rank 1 closed its connection").
      const sinceFailure = this.#failedAt === null ? Infinity : performance.now() - this.#failedAt;
      if (sinceFailure < FAILURE_SPREAD_MS) await new Promise((r) => setTimeout(r, FAILURE_SPREAD_MS - sinceFailure));
      await this.computePool?.close();
      await this.resources.close();
    }
    // Done, and zmpi's code for init and finalize is compiled now: the bundle loader may keep it
    // (not from an in-process world of zmpi/testing, which runs none of a real rank's transport).
    if (this.env.method !== "memory") codeCacheAfterFinalize(this.size);
  }

  private finalizeTimeout(ms: number): TimeoutError {
    return new TimeoutError(`not every rank reached finalize within ${(ms / 1000).toFixed(1)} s`, { comm: this.name, op: "finalize" });
  }
}
