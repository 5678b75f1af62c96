/**
 * An in-process network of N transports, for running the collective algorithms at 16–256 ranks in
 * one test process. Same interface and the same delivery rules as the ZeroMQ transport (per-pair
 * order, copies on send, receipts for zero-copy sends); never a substitute for it in integration
 * tests.
 */
import { RankFailedError } from "../errors.js";
import type { Envelope } from "./frame.js";
import { privateCopy } from "./dtype.js";
import { copyStats, countTraffic, emptyStats, type FailureHandler, type MessageHandler, type OutboundEnvelope, type Transport, type TransportStats } from "./transport.js";

/** A set of connected in-memory transports. */
export class MemoryNetwork {
  /** One transport per rank. */
  readonly transports: MemoryTransport[];

  constructor(readonly size: number) {
    this.transports = Array.from({ length: size }, (_, r) => new MemoryTransport(r, size, this));
  }

  /** Simulates the death of a rank: every other rank is told, as the coordinator would. */
  kill(rank: number, reason = `rank ${rank} was killed`): void {
    this.transports[rank]!.dead = true;
    for (const t of this.transports) if (t.rank !== rank && !t.dead) t.peerFailed(rank, reason);
  }
}

/** One rank's end of a {@link MemoryNetwork}. */
class MemoryTransport implements Transport {
  private handler: MessageHandler = () => {};
  private failureHandler: FailureHandler = () => {};
  private readonly nextSeq: number[];
  private readonly counters = emptyStats();
  private readonly deadPeers = new Map<number, string>();
  /** Set when this rank has been killed. */
  dead = false;

  constructor(
    readonly rank: number,
    readonly size: number,
    private readonly net: MemoryNetwork,
  ) {
    this.nextSeq = new Array<number>(size).fill(0);
  }

  onMessage(handler: MessageHandler): void {
    this.handler = handler;
  }

  onFailure(handler: FailureHandler): void {
    this.failureHandler = handler;
  }

  /** Called by the network when a peer dies. */
  peerFailed(rank: number, reason: string): void {
    this.deadPeers.set(rank, reason);
    this.failureHandler(rank, reason);
  }

  send(dest: number, env: OutboundEnvelope, payload: Uint8Array | null, _zeroCopy: boolean): Promise<void> {
    const reason = this.deadPeers.get(dest);
    if (reason) return Promise.reject(new RankFailedError(reason, { ranks: [dest], op: "send" }));
    const full: Envelope = { ...env, src: this.rank, seq: this.nextSeq[dest]!++ };
    // Copy at send time: the caller may reuse its buffer as soon as the promise resolves.
    const copy = payload ? privateCopy(payload) : null;
    countTraffic(this.counters, dest === this.rank ? "self" : "node", "sent", copy ? copy.length : 0);
    const target = this.net.transports[dest]!;
    queueMicrotask(() => target.deliver(full, copy));
    return Promise.resolve();
  }

  private deliver(env: Envelope, payload: Buffer | null): void {
    if (this.dead) return;
    countTraffic(this.counters, env.src === this.rank ? "self" : "node", "received", payload ? payload.length : 0);
    this.handler(env, payload);
  }

  stats(): TransportStats {
    return copyStats(this.counters);
  }

  async close(): Promise<void> {}
}
