/**
 * Point-to-point messaging on a communicator: tagged send/recv with MPI's matching and ordering,
 * non-blocking forms with requests, synchronous sends, sendrecv, probe, and PROC_NULL. Collectives
 * and group operations build on this class in the layers above. Methods are thin: check every
 * argument (options.ts), then hand off to the engine.
 */
import { performance } from "node:perf_hooks";
import { TimeoutError, UsageError } from "../errors.js";
import { bytesOf, isTypedArray, type TypedArray } from "../transport/dtype.js";
import { Kind } from "../transport/frame.js";
import { withDeadline } from "./deadlines.js";
import type { ContextState, Engine } from "./engine.js";
import { ANY_SOURCE, ANY_TAG, PROC_NULL, type Incoming, type MatchQueue } from "./matching.js";
import { checkDest, checkTag, IPROBE_KEYS, PROBE_KEYS, recvArgs, REPLACE_KEYS, sendArgs, SENDRECV_KEYS, type RecvArgs, type SendArgs } from "./options.js";
import { checkSendable, decodeData, encodeData, type Encoded } from "./payload.js";
import { Request } from "./request.js";

/** Options of a send (`send`, `isend`, `ssend`, `issend`). */
export interface SendOptions {
  /** Message tag, 0 ≤ tag ≤ {@link MAX_TAG}. Default 0. */
  tag?: number;
  /**
   * Deadline in ms for a send that waits for the receiver: a large (zero-copy) array taken by
   * `dest` (across nodes: its last byte taken by the kernel, for `dest`'s connection), an `ssend`'s
   * message taken by a receive. Default `ZMPI_TIMEOUT`. Past it the promise rejects with a
   * `TimeoutError`. (A small message's send is done once it is queued.)
   */
  timeoutMs?: number;
}

/** Options of a receive. */
export interface RecvOptions<O extends TypedArray = TypedArray> {
  /** Source rank, {@link ANY_SOURCE} (default) or {@link PROC_NULL}. */
  source?: number;
  /** Tag, or {@link ANY_TAG} (default). */
  tag?: number;
  /** Typed array to receive into (same dtype, at least the message's length). */
  out?: O;
  /** Deadline in ms; default `ZMPI_TIMEOUT`. */
  timeoutMs?: number;
}

/** Options of {@link BaseCommunicator.probe}. */
export type ProbeOptions = Omit<RecvOptions, "out">;

/** Who sent a message and what it holds. */
export interface Status {
  /** Sender's rank in this communicator ({@link PROC_NULL} for a receive from it). */
  source: number;
  /** Message tag ({@link ANY_TAG} for a receive from PROC_NULL). */
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

/** Options of {@link BaseCommunicator.sendrecvReplace}: those of sendrecv but `out` (the buffer is the data). */
export type SendrecvReplaceOptions = Omit<SendrecvOptions, "out">;

/** The status of a receive or probe from PROC_NULL. */
function nullStatus(): Status {
  return { source: PROC_NULL, tag: ANY_TAG, count: 0 };
}

/**
 * Point-to-point layer of a communicator. Argument errors (bad rank, tag, option or type) are
 * thrown synchronously by the call itself as a `UsageError`, before anything is sent; failures on
 * the wire reject the returned promise.
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

  /** @internal Context id on the wire (unique among this process's communicators). */
  get contextId(): number {
    return this.ctx.id;
  }

  /** World rank of each rank of this communicator. */
  get group(): readonly number[] {
    return this.ctx.group;
  }

  /** True once {@link Communicator.free} has released this communicator. */
  get freed(): boolean {
    return this.ctx.freed;
  }

  /** World rank of `rank` of this communicator. */
  worldRankOf(rank: number): number {
    this.checkRank(rank, "worldRankOf", "rank");
    return this.ctx.group[rank]!;
  }

  /** @internal */
  protected checkRank(rank: unknown, op: string, what: string): asserts rank is number {
    if (typeof rank !== "number" || !Number.isInteger(rank) || rank < 0 || rank >= this.size) {
      throw new UsageError(`${what} ${String(rank)} is not a rank of this communicator (0..${this.size - 1})`, {
        comm: this.name,
        op,
        ranks: typeof rank === "number" ? [rank] : [],
      });
    }
  }

  /** @internal Throws a {@link UsageError} naming the communicator if it has been freed. Every operation calls it first. */
  checkLive(op: string): void {
    if (this.ctx.freed) throw new UsageError("this communicator has been freed (free()); use another one", { comm: this.name, op });
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
    if (this.ctx.freed) this.checkLive(meta === undefined ? "send" : meta.slice(0, meta.indexOf("(")));
    const env = { comm: this.ctx.id, tag, kind, dtype: enc.dtype, count: enc.count, meta };
    return this.engine.transport.send(this.ctx.group[dest]!, env, enc.bytes, enc.zeroCopy);
  }

  /**
   * @internal Waits for a message on a plane; a blocking wait (`poll`) first polls shared memory for
   * a moment; `into`, a typed receive's destination, lets a stream read the bytes straight there.
   */
  recvOn(queue: MatchQueue, source: number, tag: number, peek: boolean, op: string, timeoutMs?: number, poll = true, into?: TypedArray): Promise<Incoming> {
    this.checkLive(op);
    const pollFrom = !poll ? undefined : source === ANY_SOURCE ? -1 : this.ctx.group[source];
    return this.engine.await(
      queue,
      source,
      tag,
      peek,
      op,
      timeoutMs,
      () => {
        const from = source === ANY_SOURCE ? "any rank" : `rank ${source}`;
        const ms = timeoutMs ?? this.engine.config.timeoutMs;
        return new TimeoutError(`no message from ${from} with tag ${tag === ANY_TAG ? "ANY_TAG" : tag} within ${seconds(ms)} s`, {
          comm: this.name,
          op,
          ranks: source === ANY_SOURCE ? [] : [source],
        });
      },
      pollFrom,
      into,
    );
  }

  /** Checks a send's arguments; false when `dest` is PROC_NULL (nothing to do). */
  private sendChecks(op: string, data: unknown, dest: unknown, opts: unknown): SendArgs | null {
    const a = sendArgs(this, op, opts);
    checkDest(this, op, dest);
    this.checkLive(op);
    if (dest !== PROC_NULL) return a;
    checkSendable(data);
    return null;
  }

  /**
   * Sends a checked message; `sync` waits for the receiver's match (ssend). A send that waits for
   * the receiver (a zero-copy array's receipt, a synchronous send's match) is bounded by its
   * deadline; a small message is done once the transport has queued it, and a per-send timer
   * there would cost more than the rest of the send path (measured: about 10 plain awaits).
   */
  private sendChecked(op: string, data: unknown, dest: number, a: SendArgs, sync: boolean): Promise<void> {
    const c = this.engine.counters;
    c.p2pCalls++;
    const t0 = performance.now();
    this.engine.check();
    const enc = encodeData(data, this.engine.config.eagerLimit);
    const expect = sync ? this.ctx.sync.expect(dest) : null;
    let p = this.sendEncodedOn(sync ? Kind.SYNC : Kind.P2P, enc, dest, a.tag);
    c.p2pMs += performance.now() - t0;
    if (!sync && !enc.zeroCopy) return p;
    if (expect) p = Promise.all([p, expect.matched]).then(() => {});
    const ms = a.timeoutMs ?? this.engine.config.timeoutMs;
    return withDeadline(p, ms, () => {
      expect?.forget();
      const what = sync
        ? `rank ${dest} has not received the message`
        : `rank ${dest} has not taken the ${enc.bytes!.byteLength}-byte array (it may still read it: do not reuse it)`;
      return new TimeoutError(`${what} within ${seconds(ms)} s`, { comm: this.name, op, ranks: [dest] });
    });
  }

  /**
   * Sends `data` to `dest` ({@link PROC_NULL}: completes at once, nothing is sent). Typed arrays
   * travel as raw bytes; other values as msgpack. When the promise resolves the caller may modify
   * `data`: small arrays are copied at once, large ones (over the eager limit, 16 KiB by default)
   * are sent without a copy and the promise resolves when `dest` has received them.
   *
   * @example
   * await comm.send(new Float64Array([1, 2]), 1, { tag: 7 });
   */
  send(data: unknown, dest: number, opts?: SendOptions): Promise<void> {
    const a = this.sendChecks("send", data, dest, opts);
    return a ? this.sendChecked("send", data, dest, a, false) : Promise.resolve();
  }

  /**
   * Synchronous send (MPI_Ssend): like {@link send}, but resolves only once a receive on `dest`
   * has taken the message (a probe does not count), so the sender knows the receiver got that far.
   *
   * @example
   * await comm.ssend({ step: 3 }, 1); // rank 1 has posted its matching recv
   */
  ssend(data: unknown, dest: number, opts?: SendOptions): Promise<void> {
    const a = this.sendChecks("ssend", data, dest, opts);
    return a ? this.sendChecked("ssend", data, dest, a, true) : Promise.resolve();
  }

  /**
   * Receives a message; resolves with the value (the sender's array type, or the decoded value).
   * From {@link PROC_NULL}: resolves at once with `undefined` (`out` untouched).
   *
   * @example
   * const x = await comm.recv<Float64Array>({ source: 0, tag: 7 });
   */
  recv<T = unknown>(opts?: RecvOptions): Promise<T> {
    return this.receiveChecked("recv", recvArgs(this, "recv", opts), false) as Promise<T>;
  }

  /** Like {@link recv}, with the sender, tag and count. */
  recvWithStatus<T = unknown>(opts?: RecvOptions): Promise<Received<T>> {
    return this.receiveChecked("recvWithStatus", recvArgs(this, "recvWithStatus", opts), true) as Promise<Received<T>>;
  }

  private receiveChecked(op: string, a: RecvArgs, withStatus: boolean, poll = true): Promise<unknown> {
    this.checkLive(op);
    if (a.source === PROC_NULL) return Promise.resolve(withStatus ? { data: undefined, ...nullStatus() } : undefined);
    const t0 = performance.now();
    const c = this.engine.counters;
    c.p2pCalls++;
    return this.recvOn(this.ctx.p2p, a.source, a.tag, false, op, a.timeoutMs, poll, a.out).then(
      (m) => {
        c.p2pMs += performance.now() - t0;
        const data = decodeData(m, a.out);
        return withStatus ? { data, source: m.source, tag: m.tag, count: m.count } : data;
      },
      (e: unknown) => {
        c.p2pMs += performance.now() - t0;
        throw e;
      },
    );
  }

  /**
   * Non-blocking send: the request completes when {@link send} would resolve.
   *
   * @example
   * const req = comm.isend(block, 1, { tag: 2 });
   * await req.wait();
   */
  isend(data: unknown, dest: number, opts?: SendOptions): Request<void> {
    const a = this.sendChecks("isend", data, dest, opts);
    return a ? new Request(this.sendChecked("isend", data, dest, a, false)) : Request.completed(undefined);
  }

  /**
   * Non-blocking synchronous send: the request completes when a receive on `dest` has taken the message.
   *
   * @example
   * const req = comm.issend(x, 1);
   * req.test().done; // false until rank 1 receives it
   */
  issend(data: unknown, dest: number, opts?: SendOptions): Request<void> {
    const a = this.sendChecks("issend", data, dest, opts);
    return a ? new Request(this.sendChecked("issend", data, dest, a, true)) : Request.completed(undefined);
  }

  /**
   * Non-blocking receive: a request whose `wait()` gives the value.
   *
   * @example
   * const reqs = [comm.irecv({ source: 1 }), comm.irecv({ source: 2 })];
   * const [a, b] = await waitAll(reqs);
   */
  irecv<T = unknown>(opts?: RecvOptions): Request<T> {
    const a = recvArgs(this, "irecv", opts);
    if (a.source === PROC_NULL) {
      this.checkLive("irecv");
      return Request.completed(undefined as T);
    }
    return new Request(this.receiveChecked("irecv", a, false, false) as Promise<T>);
  }

  /** Non-blocking receive with status. */
  irecvWithStatus<T = unknown>(opts?: RecvOptions): Request<Received<T>> {
    const a = recvArgs(this, "irecvWithStatus", opts);
    if (a.source === PROC_NULL) {
      this.checkLive("irecvWithStatus");
      return Request.completed({ data: undefined as T, ...nullStatus() });
    }
    return new Request(this.receiveChecked("irecvWithStatus", a, true, false) as Promise<Received<T>>);
  }

  /**
   * Sends to `dest` and receives from `opts.source` at once (no deadlock in rings and exchanges).
   * Either side may be {@link PROC_NULL}.
   *
   * @example
   * const left = await comm.sendrecv(mine, (rank + 1) % size, { source: (rank - 1 + size) % size });
   */
  sendrecv<T = unknown>(data: unknown, dest: number, opts?: SendrecvOptions): Promise<T> {
    const op = "sendrecv";
    const r = recvArgs(this, op, opts, SENDRECV_KEYS);
    const sendTag = checkTag(this, op, opts?.sendTag, 0, false, "sendTag");
    return this.exchange(op, data, dest, { tag: sendTag, timeoutMs: r.timeoutMs }, r) as Promise<T>;
  }

  /**
   * MPI_Sendrecv_replace: sends the typed array `buf` to `dest` and receives the message from
   * `opts.source` into the same array; resolves with `buf` (a view of its first `count` elements if
   * the message was shorter; `buf` untouched from {@link PROC_NULL}). The message must have `buf`'s
   * type and fit in it.
   *
   * @example
   * await comm.sendrecvReplace(halo, right, { source: left }); // halo now holds left's halo
   */
  sendrecvReplace<T extends TypedArray>(buf: T, dest: number, opts?: SendrecvReplaceOptions): Promise<T> {
    const op = "sendrecvReplace";
    if (!isTypedArray(buf))
      throw new UsageError(`sendrecvReplace receives into its data, which must be a typed array or Buffer (use sendrecv for other values)`, { comm: this.name, op });
    const r = recvArgs(this, op, opts, REPLACE_KEYS);
    const sendTag = checkTag(this, op, opts?.sendTag, 0, false, "sendTag");
    // The receive writes into `buf` while the send may still read it: send a copy (small sends copy anyway).
    const outgoing = dest !== PROC_NULL && bytesOf(buf).byteLength > this.engine.config.eagerLimit ? copyOf(buf) : buf;
    return this.exchange(op, outgoing, dest, { tag: sendTag, timeoutMs: r.timeoutMs }, { ...r, out: buf }).then((got) => (got === undefined ? buf : (got as T)));
  }

  /** The two halves of a sendrecv, every argument checked before either starts. */
  private exchange(op: string, data: unknown, dest: unknown, s: SendArgs, r: RecvArgs): Promise<unknown> {
    checkDest(this, op, dest);
    this.checkLive(op);
    let sent: Promise<void> = Promise.resolve();
    if (dest === PROC_NULL) checkSendable(data);
    else sent = this.sendChecked(op, data, dest, s, false);
    const got = this.receiveChecked(op, r, false);
    return Promise.all([got, sent]).then(([value]) => value);
  }

  /**
   * Waits until a matching message is available and returns its status, without receiving it.
   * From {@link PROC_NULL}: at once, `{ source: PROC_NULL, tag: ANY_TAG, count: 0 }`.
   */
  probe(opts?: ProbeOptions): Promise<Status> {
    const a = recvArgs(this, "probe", opts, PROBE_KEYS);
    this.checkLive("probe");
    if (a.source === PROC_NULL) return Promise.resolve(nullStatus());
    return this.recvOn(this.ctx.p2p, a.source, a.tag, true, "probe", a.timeoutMs).then((m) => ({ source: m.source, tag: m.tag, count: m.count }));
  }

  /** Status of a matching message if one is already here, else null. Never waits. */
  iprobe(opts?: Omit<ProbeOptions, "timeoutMs">): Status | null {
    const a = recvArgs(this, "iprobe", opts, IPROBE_KEYS);
    this.checkLive("iprobe");
    this.engine.check();
    if (a.source === PROC_NULL) return nullStatus();
    const m = this.ctx.p2p.peek(a.source, a.tag);
    return m ? { source: m.source, tag: m.tag, count: m.count } : null;
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

/** A copy of a typed array of the same type (a Buffer stays a Buffer). */
function copyOf<T extends TypedArray>(a: T): T {
  return (Buffer.isBuffer(a) ? Buffer.from(a) : a.slice()) as T;
}
