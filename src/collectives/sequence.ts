/**
 * The collective sequence of one communicator, in one place. Every collective call takes the next
 * sequence number at the moment it is called (so non-blocking collectives may be awaited in any
 * order) and records its signature — the operation and every argument that must agree between
 * ranks. Messages carry the signature: a message that reaches a call with another signature, or
 * arrives for a number whose call here differs, fails the job on every rank with a
 * {@link CollectiveMismatchError} naming both calls, instead of a hang or a wrong answer.
 */
import { performance } from "node:perf_hooks";
import type { BaseCommunicator } from "../comm/communicator.js";
import type { ContextState } from "../comm/engine.js";
import type { Incoming, MatchQueue } from "../comm/matching.js";
import type { Encoded } from "../comm/payload.js";
import type { CollectiveMismatchError, ZmpiError } from "../errors.js";
import { DType } from "../transport/dtype.js";
import type { CollectiveOptions } from "./args.js";
import { Coll, collTag, mismatchError, type CollHost } from "./coll.js";
import { nodeLayout, type NodeLayout } from "./layout.js";

/** The neighbour check's token: no payload. */
const TOKEN: Encoded = { dtype: DType.NONE, count: 0, bytes: null, zeroCopy: false };

/** How many recent calls' signatures are kept to check late messages. */
const SIG_MEMORY = 256;

/** Numbers, signs and times the collective calls of one communicator. */
export class CollectiveSequence implements CollHost {
  #next = 0;
  readonly #sigs = new Map<number, string>();
  readonly queue: MatchQueue;

  constructor(
    readonly comm: BaseCommunicator,
    ctx: ContextState,
  ) {
    this.queue = ctx.coll;
    ctx.onCollArrive = (m) => this.#checkArrival(m);
  }

  /** This rank in the communicator. */
  get rank(): number {
    return this.comm.rank;
  }

  /** Ranks in the communicator. */
  get size(): number {
    return this.comm.size;
  }

  /** The communicator's name, for errors. */
  get name(): string {
    return this.comm.name;
  }

  /** Bytes above which a typed payload is sent without a copy. */
  get eagerLimit(): number {
    return this.comm.engine.config.eagerLimit;
  }

  #layout: NodeLayout | null = null;
  /** Where this communicator's ranks run (the same on every rank: from the rendezvous table). */
  get layout(): NodeLayout {
    if (!this.#layout) {
      const nodes = this.comm.engine.nodes;
      this.#layout = nodeLayout(this.comm.group.map((w) => nodes?.[w] ?? ""));
    }
    return this.#layout;
  }

  /**
   * Starts a call: takes the next sequence number, records the signature `op(args)`, and checks
   * messages that arrived for this number before the call was made here.
   */
  begin(op: string, args: string, opts: CollectiveOptions | undefined, rooted = false): Coll {
    this.comm.checkLive(op);
    this.comm.engine.check();
    const seq = this.#next++;
    const sig = `${op}(${args})`;
    const tag = collTag(seq);
    this.#sigs.set(tag, sig);
    this.#sigs.delete(collTag(seq - SIG_MEMORY));
    const c = new Coll(this, seq, sig, op, opts?.timeoutMs);
    for (const m of this.queue.pending()) if (m.tag === tag && m.meta !== sig) throw this.mismatch(m.source, String(m.meta), sig, seq);
    if (rooted && this.size > 1) c.agreed = this.#neighbourCheck(c);
    return c;
  }

  /**
   * The neighbour check of a rooted call. Ranks that disagree on the root may each run a
   * self-consistent half of the algorithm (two ranks that both think they are the gather's root
   * wait for each other; a bcast root only sends) and never exchange a message that would show the
   * difference. So each rank also sends an empty token with the call's signature to rank+1 and
   * takes the first message of the call from rank−1 (its receive is posted before any of the
   * algorithm's, so per-pair ordering hands it the token): if any two ranks disagree, some pair of
   * neighbours does, and that rank fails the job with both signatures within one hop. One empty
   * message per rank per rooted call; the root of a bcast or scatter now waits one hop for it.
   */
  #neighbourCheck(c: Coll): Promise<void> {
    const p = this.size;
    const sent = c.sendEncoded((this.rank + 1) % p, TOKEN);
    const got = c.recvRaw((this.rank - 1 + p) % p);
    const both = Promise.all([sent, got]).then(() => undefined);
    both.catch(() => {});
    return both;
  }

  /** Counts a call and its time in the engine's counters; a rooted call also waits for its neighbour check. */
  run<T>(p: Promise<T>, c?: Coll): Promise<T> {
    const t0 = performance.now();
    const counters = this.comm.engine.counters;
    counters.collectiveCalls++;
    const agreed = c?.agreed;
    const all = agreed ? Promise.all([p, agreed]).then(([v]) => v) : p;
    return all.finally(() => {
      counters.collectiveMs += performance.now() - t0;
    });
  }

  /** Builds the mismatch error and fails the job with it on every rank. */
  mismatch(source: number, theirs: string, mine: string, seq: number): CollectiveMismatchError {
    const err = mismatchError(this.name, mine.slice(0, mine.indexOf("(")), this.rank, source, theirs, mine, seq);
    this.fail(err);
    return err;
  }

  /** Fails the job on every rank (a call found something every rank must hear about). */
  fail(err: ZmpiError): void {
    this.comm.engine.failEverywhere(err);
  }

  #checkArrival(m: Incoming): void {
    const sig = this.#sigs.get(m.tag);
    if (sig !== undefined && m.meta !== sig) this.fail(mismatchError(this.name, sig.slice(0, sig.indexOf("(")), this.rank, m.source, String(m.meta), sig, m.tag));
  }
}
