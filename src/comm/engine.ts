/**
 * The per-process message engine: routes every inbound message to its communicator's matching
 * queue, holds messages for communicators this rank has not created yet, keeps the deadlines, and
 * turns a failure anywhere into a rejection of every pending operation.
 */
import { RankFailedError, type TimeoutError, UsageError, ZmpiError } from "../errors.js";
import { DType, type TypedArray } from "../transport/dtype.js";
import { Kind, type Envelope } from "../transport/frame.js";
import type { RemotePayload, Transport } from "../transport/transport.js";
import { materialize, MatchQueue, type Incoming, type PostedWait } from "./matching.js";
import { SyncLedger } from "./sync.js";

/**
 * How long a single-copy message may wait for its receive before it is copied out anyway. A user's
 * receive usually follows within a moment or not for long; a collective's algorithms post their
 * receives in a known order, so its segments are worth keeping for a direct copy much longer.
 */
const P2P_HOLD_MS = 5;
const COLL_HOLD_MS = 250;

/**
 * Typed arrays of up to this many bytes are copied when sent (the send resolves at once); larger
 * ones go without a copy and their send resolves when the receiver has them. On one machine the
 * copy is a cost of its own: an array that does not fit a ring (8 KiB) goes by single copy either
 * way, out of the sender's array or out of zmpi's copy of it, so the eager one is copied twice and
 * its pair falls out of step more often. Measured, 2 ranks on one node each pinned to a core,
 * 10000 ping-pongs after 10000, mean µs a hop, two runs: 64 KiB 41–60 eager against 25–28 not,
 * 32 KiB 38–52 against 28, 16 KiB 24–30 against 25–28 (so not lower). With the former 64 KiB limit
 * the one-node sweep's 64 KiB row stood above its 128 KiB row in five sweeps of five (issue 12's
 * "no cliff"; 35–88 µs against 30–38). Open MPI's shared-memory eager limit is 4 KiB.
 * `ZMPI_EAGER_LIMIT` or `init({ eagerLimit })` sets another.
 */
export const DEFAULT_EAGER_LIMIT = 16 * 1024;
/** The largest eager limit, bytes (`ZMPI_EAGER_LIMIT` accepts the same range). */
export const MAX_EAGER_LIMIT = 1 << 30;

/** Engine settings. */
export interface EngineConfig {
  /** Default deadline of every wait, in ms. */
  timeoutMs: number;
  /** Typed payloads above this many bytes are sent zero-copy and acknowledged; smaller ones are copied ({@link DEFAULT_EAGER_LIMIT}). */
  eagerLimit: number;
  /**
   * Where `ZMPI_ALGORITHM` and `ZMPI_ALG_<NAME>` are read from: the environment `init()` read
   * (`init({ env })` or `process.env`); absent, `process.env`.
   */
  algorithmEnv?: Readonly<Record<string, string | undefined>>;
}

/** Time and traffic counters, per operation family. */
export interface EngineCounters {
  p2pMs: number;
  collectiveMs: number;
  p2pCalls: number;
  collectiveCalls: number;
}

/** One communicator's state inside the engine. */
export class ContextState {
  /** Point-to-point and collective matching spaces. */
  readonly p2p: MatchQueue;
  readonly coll = new MatchQueue(COLL_HOLD_MS);
  /** Synchronous sends from and to this rank on this communicator. */
  readonly sync = new SyncLedger();
  private readonly commRankOf: Map<number, number>;
  /** Checks each arriving collective message (mismatch detection), set by the collective layer. */
  onCollArrive: ((m: Incoming) => void) | null = null;
  /** Set by `free()`: every later operation is refused. */
  freed = false;

  constructor(
    readonly id: number,
    /** World rank of each communicator rank. */
    readonly group: readonly number[],
    readonly name: string,
    /** Sends the receipt of a synchronous message a receive has taken. */
    onTakeSync: (ctx: ContextState, m: Incoming) => void = () => {},
  ) {
    this.commRankOf = new Map(group.map((w, r) => [w, r]));
    this.p2p = new MatchQueue(P2P_HOLD_MS, (m) => onTakeSync(this, m));
  }

  /** Communicator rank of a world rank, or -1. */
  rankOfWorld(worldRank: number): number {
    return this.commRankOf.get(worldRank) ?? -1;
  }

  /** Rejects every pending operation on this communicator. */
  failAll(makeError: (op: string) => Error): void {
    this.p2p.failAll(makeError);
    this.coll.failAll(makeError);
    this.sync.failAll(makeError);
  }
}

/** Routes messages and failures for one process. */
export class Engine {
  private readonly contexts = new Map<number, ContextState>();
  private readonly early = new Map<number, Array<[Envelope, Buffer | null]>>();
  /** Ids of freed communicators: what still arrives for them is dropped (ids are never reused). */
  private readonly freedIds = new Set<number>();
  private failure: ZmpiError | null = null;
  private readonly failureListeners: Array<(e: ZmpiError) => void> = [];
  /**
   * Tells every other rank about a failure found here (set by `init()` to report to the
   * coordinator; the in-memory network fails every engine). Unset: the failure stays local.
   */
  spread: ((err: ZmpiError) => void) | null = null;
  /** Dropped messages for reasons past the wire check (e.g. a sender outside the communicator). */
  dropped = 0;
  /** Time and call counters. */
  readonly counters: EngineCounters = { p2pMs: 0, collectiveMs: 0, p2pCalls: 0, collectiveCalls: 0 };

  constructor(
    readonly transport: Transport,
    readonly config: EngineConfig,
  ) {
    transport.onMessage((env, payload, remote) => this.deliver(env, payload, remote));
    transport.onLend?.((env, byteLength, revoke) => this.lend(env, byteLength, revoke));
    transport.onFailure((rank, reason) => this.fail(new RankFailedError(reason, { ranks: [rank] })));
  }

  /** World rank of this process. */
  get worldRank(): number {
    return this.transport.rank;
  }

  /** World size. */
  get worldSize(): number {
    return this.transport.size;
  }

  /** Registers a communicator and delivers what arrived for it before it existed here. */
  register(id: number, group: readonly number[], name: string): ContextState {
    const existing = this.contexts.get(id);
    if (existing) throw new ZmpiError(`communicator id ${id} is already in use (by ${existing.name})`);
    const ctx = new ContextState(id, group, name, this.sendReceipt);
    this.contexts.set(id, ctx);
    const held = this.early.get(id);
    if (held) {
      this.early.delete(id);
      for (const [env, payload] of held) this.deliver(env, payload);
    }
    return ctx;
  }

  /**
   * Forgets a communicator (its `free()`): operations still pending on it reject with a
   * {@link UsageError}, messages waiting for a receive are dropped (their senders let go), and
   * whatever arrives for it later is dropped and counted in {@link dropped}.
   */
  unregister(id: number): void {
    const ctx = this.contexts.get(id);
    if (!ctx) return;
    this.contexts.delete(id);
    this.freedIds.add(id);
    ctx.freed = true;
    ctx.failAll((op) => new UsageError("the communicator was freed while this operation was pending", { comm: ctx.name, op }));
    ctx.p2p.discardAll();
    ctx.coll.discardAll();
  }

  /** Communicators registered here (diagnostics and tests). */
  get contextCount(): number {
    return this.contexts.size;
  }

  /** Tells the sender of a synchronous message that a receive has taken it. */
  private readonly sendReceipt = (ctx: ContextState, m: Incoming): void => {
    if (this.failure || ctx.freed) return;
    const env = { comm: ctx.id, tag: 0, kind: Kind.SYNC, dtype: DType.NONE, count: m.sync! };
    this.transport.send(ctx.group[m.source]!, env, null, false).catch(() => {
      // The sender is gone: its own failure handling reports that.
    });
  };

  /** Name of this process's node (for node-local groups). */
  nodeName = "local";
  /**
   * The machine of every world rank (index = world rank; equal strings = same machine, where the
   * same-node fast path works), identical on every rank because it comes from the endpoint table
   * all ranks receive at rendezvous. Node-aware collectives choose from it. Null: one machine.
   */
  nodes: readonly string[] | null = null;
  private reservedUpTo = 0;

  /** Marks ids up to `upTo` as taken here (a split agreed on them, even those this rank is not in). */
  reserveContextIds(upTo: number): void {
    if (upTo > this.reservedUpTo) this.reservedUpTo = upTo;
  }

  /** Highest communicator id used or reserved here (for agreeing on new ids). */
  maxContextId(): number {
    let m = this.reservedUpTo;
    for (const id of this.contexts.keys()) if (id > m) m = id;
    for (const id of this.early.keys()) if (id > m) m = id;
    return m;
  }

  /** The memory of the receive that will take this arriving message, if it is sure (see MatchQueue.lend). */
  private lend(env: Envelope, byteLength: number, revoke: () => void): Uint8Array | null {
    const ctx = this.contexts.get(env.comm);
    if (!ctx || this.failure) return null;
    const source = ctx.rankOfWorld(env.src);
    if (source < 0) return null;
    // The queue deliver() will put the message in.
    return (env.kind === Kind.COLL ? ctx.coll : ctx.p2p).lend(source, env.tag, env.dtype, byteLength, revoke);
  }

  private deliver(env: Envelope, payload: Buffer | null, remote?: RemotePayload): void {
    const ctx = this.contexts.get(env.comm);
    if (!ctx) {
      if (this.freedIds.has(env.comm)) {
        remote?.release();
        this.dropped++;
        return;
      }
      let q = this.early.get(env.comm);
      if (!q) {
        q = [];
        this.early.set(env.comm, q);
      }
      // Held messages are copied out now: the sender must not wait on a communicator not yet made here.
      q.push([env, remote ? materialize(remote) : payload]);
      return;
    }
    const source = ctx.rankOfWorld(env.src);
    if (source < 0) {
      remote?.release();
      this.dropped++;
      return;
    }
    const m: Incoming = { source, tag: env.tag, dtype: env.dtype, count: env.count, payload };
    if (remote) m.remote = remote;
    if (env.meta !== undefined) m.meta = env.meta;
    if (env.kind === Kind.COLL) {
      ctx.onCollArrive?.(m);
      ctx.coll.arrive(m);
    } else if (env.kind === Kind.SYNC) {
      // A synchronous send's message, or (no payload type) the receipt for one this rank sent.
      if (env.dtype === DType.NONE) {
        ctx.sync.receipt(source, env.count);
        return;
      }
      m.sync = ctx.sync.arrived(source);
      ctx.p2p.arrive(m);
    } else {
      ctx.p2p.arrive(m);
    }
  }

  /** The failure that brought the job down, if any. */
  get failed(): ZmpiError | null {
    return this.failure;
  }

  /** Throws the job's failure, if any: operations after a failure fail at once. */
  check(): void {
    if (this.failure) throw this.failure;
  }

  /** Fails here and, through {@link spread}, on every other rank. */
  failEverywhere(err: ZmpiError): void {
    if (this.failure) return;
    this.spread?.(err);
    this.fail(err);
  }

  /** Rejects every pending operation with `err` (first failure wins) and tells the listeners. */
  fail(err: ZmpiError): void {
    if (this.failure) return;
    this.failure = err;
    for (const ctx of this.contexts.values()) {
      ctx.failAll((op: string) => new (err.constructor as typeof ZmpiError)(err.detail, { comm: ctx.name, op, ranks: err.ranks }));
    }
    for (const l of this.failureListeners) l(err);
  }

  /** Calls `listener` once, on the first failure. */
  onFailure(listener: (e: ZmpiError) => void): void {
    this.failureListeners.push(listener);
  }

  /**
   * Waits on a matching queue with a deadline (`ZMPI_TIMEOUT` unless given); rejects at once after a
   * failure. With `pollFrom` (the sender's world rank, -1 for any), a wait that did not match at
   * once first polls the transport's shared-memory rings for a moment (shm-channel.ts), as a
   * blocking MPI receive does: the answer of a partner on the same node comes in microseconds.
   */
  await(
    queue: MatchQueue,
    source: number,
    tag: number,
    peek: boolean,
    op: string,
    timeoutMs: number | undefined,
    onTimeout: () => TimeoutError,
    pollFrom?: number,
    into?: TypedArray,
  ): Promise<Incoming> {
    if (this.failure) return Promise.reject(this.failure);
    const p = queue.wait(source, tag, peek, op, timeoutMs ?? this.config.timeoutMs, onTimeout, into);
    const posted = queue.posted;
    if (posted && pollFrom !== undefined && this.transport.spin) {
      // Polled once the caller's synchronous code has run, as MPI polls in Wait, not in Irecv:
      // `Promise.all([recv(peer), send(peer)])` must send before it polls for the answer.
      if (this.pollFirst === null) {
        this.pollFirst = posted;
        this.pollFirstFrom = pollFrom;
        queueMicrotask(this.pollPosted);
      } else if (this.pollMore === null) {
        this.pollMore = [[pollFrom, posted]];
      } else {
        this.pollMore.push([pollFrom, posted]);
      }
    }
    return p;
  }

  /**
   * The first receive posted in this turn that waits to poll, and the world rank it waits for.
   * Most turns post just one (a blocking receive): polling for it allocates nothing.
   */
  private pollFirst: PostedWait | null = null;
  private pollFirstFrom = 0;
  /** The others posted in the same turn, with the world rank each waits for. */
  private pollMore: Array<[number, PostedWait]> | null = null;
  /** The one wait being polled for, as the transport asks (index 0). */
  private polling: PostedWait | null = null;
  private readonly pollSource = [0];
  private readonly pollingDone = (): boolean => this.polling?.done === true;

  private readonly pollPosted = (): void => {
    const first = this.pollFirst!;
    const more = this.pollMore;
    this.pollFirst = this.pollMore = null;
    if (this.failure) return;
    if (more === null) {
      this.pollSource[0] = this.pollFirstFrom;
      this.polling = first;
      try {
        this.transport.spin!(this.pollSource, this.pollingDone);
      } finally {
        this.polling = null;
      }
      return;
    }
    const batch: Array<[number, PostedWait]> = [[this.pollFirstFrom, first], ...more];
    this.transport.spin!(
      batch.map(([from]) => from),
      (i) => batch[i]![1].done === true,
    );
  };
}
