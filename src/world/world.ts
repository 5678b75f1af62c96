/**
 * The world: the communicator of every rank, plus what a process has once (its environment, logger,
 * control channel, and the finalize that shuts it all down).
 */
import { TimeoutError } from "../errors.js";
import { Communicator } from "../groups/communicator.js";
import type { Engine, ContextState } from "../comm/engine.js";
import type { RankEnvironment } from "../env/types.js";
import type { TransportStats } from "../transport/transport.js";
import type { Logger } from "./logger.js";

/** Things `finalize()` must close, owned by `init()`. */
export interface WorldResources {
  /** Waits until every rank has entered finalize (no-op for a world of size 1). */
  goodbye(): Promise<void>;
  /** Closes sockets, services, handlers. */
  close(): Promise<void>;
}

/** Options of {@link World.finalize}. */
export interface FinalizeOptions {
  /** Deadline for every rank to reach finalize, in ms (default `ZMPI_TIMEOUT`). */
  timeoutMs?: number;
}

/** The world communicator and the process-wide services. */
export class World extends Communicator {
  /** What was detected about this rank (launcher, node, coordinator). */
  readonly env: RankEnvironment;
  /** Rank-aware logger: `info` prints once, `all` on every rank. */
  readonly log: Logger;
  private finalized: Promise<void> | null = null;

  /** @internal use `init()` */
  constructor(engine: Engine, ctx: ContextState, env: RankEnvironment, log: Logger, private readonly resources: WorldResources) {
    super(engine, ctx);
    this.env = env;
    this.log = log;
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

  /** Transport counters (messages, bytes, dropped frames, refused connections). */
  transportStats(): TransportStats {
    return this.engine.transport.stats();
  }

  /** True once `finalize()` has been called. */
  get isFinalized(): boolean {
    return this.finalized !== null;
  }

  /**
   * Collective shutdown: waits until every rank has called it, then closes every socket so the
   * process can exit on its own. Calling it again returns the same promise.
   */
  finalize(opts: FinalizeOptions = {}): Promise<void> {
    if (!this.finalized) this.finalized = this.doFinalize(opts.timeoutMs ?? this.engine.config.timeoutMs);
    return this.finalized;
  }

  private async doFinalize(timeoutMs: number): Promise<void> {
    this.engine.check();
    let timer: NodeJS.Timeout | undefined;
    try {
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(this.finalizeTimeout(timeoutMs)), timeoutMs);
      });
      const failed = new Promise<never>((_, reject) => this.engine.onFailure(reject));
      await Promise.race([this.resources.goodbye(), deadline, failed]);
    } finally {
      clearTimeout(timer);
      await this.resources.close();
    }
  }

  private finalizeTimeout(ms: number): TimeoutError {
    return new TimeoutError(`not every rank reached finalize within ${(ms / 1000).toFixed(1)} s`, { comm: this.name, op: "finalize" });
  }
}
