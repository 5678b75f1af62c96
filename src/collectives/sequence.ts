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
import { Kind } from "../transport/frame.js";
import type { CollectiveOptions } from "./args.js";
import { Coll, collTag, mismatchError, type CollHost } from "./coll.js";
import { type CollectiveName, forced } from "./select.js";
import { nodeLayout, type NodeLayout } from "./layout.js";

/** The root check's token: no payload (the signature travels in the message's meta). */
const TOKEN: Encoded = { dtype: DType.NONE, count: 0, bytes: null, zeroCopy: false };

/**
 * Tag bit of the root check's tokens: a tag space of their own beside the call's (`collTag` uses
 * 30 bits; the wire takes 31), so a token never meets one of the algorithm's receives.
 */
const CHECK_TAG_BIT = 0x40000000;

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
   * The algorithm forced for `name`: per call, else `ZMPI_ALG_<NAME>`, else `ZMPI_ALGORITHM` (from
   * the environment `init()` read), else null (the automatic choice).
   */
  forced(name: CollectiveName, perCall: string | undefined): string | null {
    return forced(name, perCall, this.comm.engine.config.algorithmEnv);
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
    if (rooted && this.size > 1) {
      const agreed = this.#rootCheck(c);
      agreed.catch(() => {}); // awaited by run(); never an unhandled rejection if the call fails first
      c.agreed = agreed;
    }
    return c;
  }

  /**
   * The root check of a rooted call. Ranks that disagree on the root may each run a
   * self-consistent half of the algorithm (two ranks that both think they are the gather's root
   * wait for each other; a bcast root only sends) and never exchange a message that would show the
   * difference. So the ranks also run a dissemination exchange of empty tokens that carry the
   * call's signature: in round k each rank sends to rank + 2^k and takes the token of rank − 2^k,
   * sending the next round's token only once this round's agreed. A rank passes a token on only if
   * everything it heard agreed with it, so after ⌈log2 p⌉ rounds each rank has (transitively) heard
   * from every rank: a disagreement anywhere fails *every* rank at this call with
   * CollectiveMismatchError (a rank that sees the difference throws and spreads it; a rank whose
   * chain of tokens passes through it waits for that spread instead of returning). The price:
   * ⌈log2 p⌉ empty messages per rank per rooted call, running beside the algorithm's own messages
   * (a bcast root, which sends only, now waits for them too).
   */
  async #rootCheck(c: Coll): Promise<void> {
    const p = this.size;
    const tag = c.tag | CHECK_TAG_BIT;
    for (let d = 1; d < p; d *= 2) {
      const sent = this.comm.sendEncodedOn(Kind.COLL, TOKEN, (this.rank + d) % p, tag, c.sig);
      const m = await this.comm.recvOn(this.queue, (this.rank - d + p) % p, tag, false, c.op, c.timeoutMs);
      c.check(m);
      await sent;
    }
  }

  /** Counts a call and its time in the engine's counters; a rooted call also waits for its root check. */
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
