/**
 * One collective call in flight: its sequence number, its signature, and send/receive on the
 * communicator's collective plane. Every message carries the caller's signature, so ranks that
 * called different collectives (or the same one with different arguments) find out from the first
 * message that crosses between them, instead of hanging or returning garbage.
 */
import type { BaseCommunicator } from "../comm/communicator.js";
import { discardPayload, type Incoming, type MatchQueue } from "../comm/matching.js";
import { decodeData, type Encoded } from "../comm/payload.js";
import { CollectiveMismatchError } from "../errors.js";
import type { TypedArray } from "../transport/dtype.js";
import { Kind } from "../transport/frame.js";

/** Tags on the collective plane are the call's sequence number (30 bits). */
export function collTag(seq: number): number {
  return seq & 0x3fffffff;
}

/** What a call needs from the sequence that numbered it: the wire, and who reports a mismatch. */
export interface CollHost {
  readonly comm: BaseCommunicator;
  readonly queue: MatchQueue;
  mismatch(source: number, theirs: string, mine: string, seq: number): CollectiveMismatchError;
}

/**
 * Per-call context the algorithms use. A call can be narrowed to a view over some of its ranks
 * ({@link Coll.over}): the view numbers them 0..k−1 and every algorithm runs on it unchanged, so a
 * node-aware collective runs its phases inside nodes and between them without making a
 * communicator per call (no new context id, no agreement): the messages stay on the call's tag and
 * signature, and one pair's messages of successive phases are matched in order, as they were sent.
 */
export class Coll {
  /** This rank's position in the call (in the view, for a view). */
  readonly rank: number;
  /** Ranks taking part (in the view, for a view). */
  readonly size: number;
  readonly tag: number;
  /** A rooted call's root check (see CollectiveSequence), which the call also waits for. */
  agreed: Promise<void> | null = null;

  constructor(
    private readonly host: CollHost,
    readonly seq: number,
    /** Human-readable signature, e.g. `allreduce(float64[1000], SUM, ring)`. */
    readonly sig: string,
    /** Operation name for errors. */
    readonly op: string,
    readonly timeoutMs: number | undefined,
    /** Communicator rank of each view position; null for the whole communicator. */
    private readonly members: readonly number[] | null = null,
  ) {
    this.rank = members ? members.indexOf(host.comm.rank) : host.comm.rank;
    this.size = members ? members.length : host.comm.size;
    this.tag = collTag(seq);
    if (this.rank < 0) throw new RangeError(`rank ${host.comm.rank} is not in the view [${members!.join(", ")}] of ${sig}`);
  }

  /**
   * This call over `ranks` only (positions of this call, which must include this rank's): the
   * view's rank i is `ranks[i]`. Only the ranks in the view may run an algorithm on it.
   */
  over(ranks: readonly number[]): Coll {
    const members = this.members ? ranks.map((r) => this.members![r]!) : ranks;
    return new Coll(this.host, this.seq, this.sig, this.op, this.timeoutMs, members);
  }

  /** The communicator rank of position `i` of this call (the same number outside a view). */
  commRank(i: number): number {
    return this.members ? this.members[i]! : i;
  }

  /** Bytes above which a typed payload is sent without a copy (the engine's eager limit). */
  get eagerLimit(): number {
    return this.host.comm.engine.config.eagerLimit;
  }

  /** Sends a value (typed arrays raw, others msgpack). Never throws synchronously. */
  async send(dest: number, data: unknown): Promise<void> {
    return this.host.comm.sendOn(Kind.COLL, data, this.commRank(dest), this.tag, this.sig);
  }

  /** Sends an already encoded payload (forwarding received bytes without decoding). */
  async sendEncoded(dest: number, enc: Encoded): Promise<void> {
    return this.host.comm.sendEncodedOn(Kind.COLL, enc, this.commRank(dest), this.tag, this.sig);
  }

  /**
   * Receives the next message of this call from `source`, checking its signature. `into`, where
   * the caller will put a typed payload, lets a stream read it straight there (MatchQueue.lend).
   */
  async recvRaw(source: number, into?: TypedArray): Promise<Incoming> {
    const m = await this.host.comm.recvOn(this.host.queue, this.commRank(source), this.tag, false, this.op, this.timeoutMs, true, into);
    this.check(m);
    return m;
  }

  /** Receives and decodes (typed arrays alias the received bytes; `out` is filled if given). */
  async recv<T = unknown>(source: number, out?: TypedArray): Promise<T> {
    return decodeData(await this.recvRaw(source), out) as T;
  }

  /** Throws (and spreads) a {@link CollectiveMismatchError} if `m` belongs to a different call. */
  check(m: Incoming): void {
    if (m.meta === this.sig) return;
    discardPayload(m);
    throw this.host.mismatch(m.source, String(m.meta), this.sig, this.seq);
  }

  /** Throws (and spreads) a mismatch this call found in a message's content from position `source` (e.g. a bcast buffer of the wrong size). */
  mismatch(source: number, theirs: string, mine: string): CollectiveMismatchError {
    return this.host.mismatch(this.commRank(source), theirs, mine, this.seq);
  }
}

/** Builds the mismatch error (used by {@link Coll} and by the arrival check). */
export function mismatchError(commName: string, op: string, me: number, other: number, theirs: string, mine: string, seq: number): CollectiveMismatchError {
  return new CollectiveMismatchError(`collective #${seq} differs between ranks: rank ${me} called ${mine}, rank ${other} called ${theirs}`, {
    comm: commName,
    op,
    ranks: [me, other].sort((a, b) => a - b),
  });
}
