/**
 * Point-to-point messaging on a communicator: tagged send/recv with MPI's matching and ordering,
 * non-blocking forms with requests, sendrecv, probe. Collectives and group operations build on this
 * class in the layers above.
 */
import { performance } from "node:perf_hooks";
import { TimeoutError, UsageError } from "../errors.js";
import type { TypedArray } from "../transport/dtype.js";
import { Kind, MAX_TAG } from "../transport/frame.js";
import type { ContextState, Engine } from "./engine.js";
import { ANY_SOURCE, ANY_TAG, type Incoming, type MatchQueue } from "./matching.js";
import { decodeData, encodeData, type Encoded } from "./payload.js";
import { Request } from "./request.js";

/** Options of a send. */
export interface SendOptions {
  /** Message tag, 0 ≤ tag ≤ {@link MAX_TAG}. Default 0. */
  tag?: number;
  /** Deadline in ms for the receipt of a large (zero-copy) message; default `ZMPI_TIMEOUT`. */
  timeoutMs?: number;
}

/** Options of a receive or probe. */
export interface RecvOptions<O extends TypedArray = TypedArray> {
  /** Source rank, or {@link ANY_SOURCE} (default). */
  source?: number;
  /** Tag, or {@link ANY_TAG} (default). */
  tag?: number;
  /** Typed array to receive into (same dtype, at least the message's length). */
  out?: O;
  /** Deadline in ms; default `ZMPI_TIMEOUT`. */
  timeoutMs?: number;
}

/** Who sent a message and what it holds. */
export interface Status {
  /** Sender's rank in this communicator. */
  source: number;
  /** Message tag. */
  tag: number;
  /** Elements of a typed array, or bytes of a msgpack value. */
  count: number;
}

/** A received value with its status. */
export interface Received<T> extends Status {
  /** The value. */
  data: T;
}

/** Options of {@link BaseCommunicator.sendrecv}. */
export interface SendrecvOptions<O extends TypedArray = TypedArray> extends RecvOptions<O> {
  /** Tag of the outgoing message (default 0). */
  sendTag?: number;
}

/**
 * Point-to-point layer of a communicator. Argument errors (bad rank, tag or type) are thrown
 * synchronously by the call itself, before anything is sent; failures on the wire reject the
 * returned promise.
 */
export class BaseCommunicator {
  /** This process's rank in the communicator. */
  readonly rank: number;
  /** Number of ranks in the communicator. */
  readonly size: number;
  /** @internal matching state */
  protected readonly ctx: ContextState;

  /** @internal use `init()`, `split()`, `dup()` and friends instead. */
  constructor(
    /** @internal */
    readonly engine: Engine,
    ctx: ContextState,
  ) {
    this.ctx = ctx;
    this.size = ctx.group.length;
    this.rank = ctx.rankOfWorld(engine.worldRank);
    if (this.rank < 0) throw new UsageError(`this process (world rank ${engine.worldRank}) is not a member of ${ctx.name}`);
  }

  /** Communicator name used in errors, e.g. `"world"` or `"world.split(color=1)"`. */
  get name(): string {
    return this.ctx.name;
  }

  /** Context id on the wire (unique among this process's communicators). */
  get contextId(): number {
    return this.ctx.id;
  }

  /** World rank of each rank of this communicator. */
  get group(): readonly number[] {
    return this.ctx.group;
  }

  /** World rank of `rank` of this communicator. */
  worldRankOf(rank: number): number {
    this.checkRank(rank, "worldRankOf", "rank");
    return this.ctx.group[rank]!;
  }

  /** @internal */
  protected checkRank(rank: unknown, op: string, what: string): asserts rank is number {
    if (typeof rank !== "number" || !Number.isInteger(rank) || rank < 0 || rank >= this.size) {
      throw new UsageError(`${what} ${String(rank)} is not a rank of this communicator (0..${this.size - 1})`, { comm: this.name, op, ranks: typeof rank === "number" ? [rank] : [] });
    }
  }

  private checkTag(tag: unknown, op: string, wildcard: boolean): asserts tag is number {
    if (wildcard && tag === ANY_TAG) return;
    if (typeof tag !== "number" || !Number.isInteger(tag) || tag < 0 || tag > MAX_TAG) {
      throw new UsageError(`tag ${String(tag)} is invalid: tags are integers 0..${MAX_TAG}${wildcard ? " or ANY_TAG" : ""}`, { comm: this.name, op });
    }
  }

  private checkSource(source: unknown, op: string): asserts source is number {
    if (source === ANY_SOURCE) return;
    this.checkRank(source, op, "source");
  }

  /**
   * @internal Sends raw data on the point-to-point or collective plane. Validation is the caller's.
   */
  sendOn(kind: number, data: unknown, dest: number, tag: number, meta?: string): Promise<void> {
    this.engine.check();
    return this.sendEncodedOn(kind, encodeData(data, this.engine.config.eagerLimit), dest, tag, meta);
  }

  /** @internal Sends an encoded payload on a plane (forwarding without re-encoding). */
  sendEncodedOn(kind: number, enc: Encoded, dest: number, tag: number, meta?: string): Promise<void> {
    this.engine.check();
    const env = { comm: this.ctx.id, tag, kind, dtype: enc.dtype, count: enc.count, meta };
    return this.engine.transport.send(this.ctx.group[dest]!, env, enc.bytes, enc.zeroCopy);
  }

  /** @internal Waits for a message on a plane. */
  recvOn(queue: MatchQueue, source: number, tag: number, peek: boolean, op: string, timeoutMs?: number): Promise<Incoming> {
    return this.engine.await(queue, source, tag, peek, op, timeoutMs, () => {
      const from = source === ANY_SOURCE ? "any rank" : `rank ${source}`;
      const ms = timeoutMs ?? this.engine.config.timeoutMs;
      return new TimeoutError(`no message from ${from} with tag ${tag === ANY_TAG ? "ANY_TAG" : tag} within ${(ms / 1000).toFixed(1)} s`, {
        comm: this.name,
        op,
        ranks: source === ANY_SOURCE ? [] : [source],
      });
    });
  }



  /**
   * Sends `data` to `dest`. Typed arrays travel as raw bytes; other values as msgpack. When the
   * promise resolves the caller may modify `data`: small arrays are copied at once, large ones
   * (over the eager limit, 64 KiB by default) are sent without a copy and the promise resolves when
   * `dest` has received them.
   */
  send(data: unknown, dest: number, opts: SendOptions = {}): Promise<void> {
    const tag = opts.tag ?? 0;
    this.checkRank(dest, "send", "destination");
    this.checkTag(tag, "send", false);
    const c = this.engine.counters;
    c.p2pCalls++;
    const t0 = performance.now();
    const p = this.sendOn(Kind.P2P, data, dest, tag);
    c.p2pMs += performance.now() - t0;
    // Only sends that wait for a receipt (large, zero-copy) take time after this point.
    return p;
  }

  /** Receives a message; resolves with the value (the sender's array type, or the decoded value). */
  recv<T = unknown>(opts: RecvOptions = {}): Promise<T> {
    return this.receive(opts, false) as Promise<T>;
  }

  /** Like {@link recv}, with the sender, tag and count. */
  recvWithStatus<T = unknown>(opts: RecvOptions = {}): Promise<Received<T>> {
    return this.receive(opts, true) as Promise<Received<T>>;
  }

  private receive(opts: RecvOptions, withStatus: boolean): Promise<unknown> {
    const source = opts.source ?? ANY_SOURCE;
    const tag = opts.tag ?? ANY_TAG;
    this.checkSource(source, "recv");
    this.checkTag(tag, "recv", true);
    const t0 = performance.now();
    const c = this.engine.counters;
    c.p2pCalls++;
    return this.recvOn(this.ctx.p2p, source, tag, false, "recv", opts.timeoutMs).then(
      (m) => {
        c.p2pMs += performance.now() - t0;
        const data = decodeData(m, opts.out);
        return withStatus ? { data, source: m.source, tag: m.tag, count: m.count } : data;
      },
      (e: unknown) => {
        c.p2pMs += performance.now() - t0;
        throw e;
      },
    );
  }

  /** Non-blocking send: the request completes when {@link send} would resolve. */
  isend(data: unknown, dest: number, opts: SendOptions = {}): Request<void> {
    return new Request(this.send(data, dest, opts));
  }

  /** Non-blocking receive: a request whose `wait()` gives the value. */
  irecv<T = unknown>(opts: RecvOptions = {}): Request<T> {
    return new Request(this.recv<T>(opts));
  }

  /** Non-blocking receive with status. */
  irecvWithStatus<T = unknown>(opts: RecvOptions = {}): Request<Received<T>> {
    return new Request(this.recvWithStatus<T>(opts));
  }

  /** Sends to `dest` and receives from `opts.source` at once (no deadlock in rings and exchanges). */
  sendrecv<T = unknown>(data: unknown, dest: number, opts: SendrecvOptions = {}): Promise<T> {
    const s = this.send(data, dest, { tag: opts.sendTag ?? 0, timeoutMs: opts.timeoutMs });
    let r: Promise<T>;
    try {
      r = this.recv<T>(opts);
    } catch (e) {
      s.catch(() => {});
      throw e;
    }
    return Promise.all([r, s]).then(([value]) => value);
  }

  /** Waits until a matching message is available and returns its status, without receiving it. */
  probe(opts: Omit<RecvOptions, "out"> = {}): Promise<Status> {
    const source = opts.source ?? ANY_SOURCE;
    const tag = opts.tag ?? ANY_TAG;
    this.checkSource(source, "probe");
    this.checkTag(tag, "probe", true);
    return this.recvOn(this.ctx.p2p, source, tag, true, "probe", opts.timeoutMs).then((m) => ({ source: m.source, tag: m.tag, count: m.count }));
  }

  /** Status of a matching message if one is already here, else null. Never waits. */
  iprobe(opts: Omit<RecvOptions, "out" | "timeoutMs"> = {}): Status | null {
    const source = opts.source ?? ANY_SOURCE;
    const tag = opts.tag ?? ANY_TAG;
    this.checkSource(source, "iprobe");
    this.checkTag(tag, "iprobe", true);
    this.engine.check();
    const m = this.ctx.p2p.peek(source, tag);
    return m ? { source: m.source, tag: m.tag, count: m.count } : null;
  }
}
