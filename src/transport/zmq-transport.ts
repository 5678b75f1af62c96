/**
 * The real transport: one bound PULL inbox per rank (tcp on the node's address, plus ipc for ranks
 * on the same node) and one lazily opened PUSH link per peer. Payload frames carry typed-array
 * bytes as they are. A zero-copy send resolves when the receiver acknowledges the message, because
 * zeromq reads the caller's memory after `send()` has returned; over an authenticated stream
 * socket (across nodes: TCP), once the kernel has taken its last byte. A stream reader puts an
 * arriving payload straight into the `out` array of the receive sure to take it (MatchQueue.lend).
 *
 * Every ZeroMQ connection is CURVE (encrypted and mutually authenticated; zmq-security.ts). The
 * inbox admits the coordinator, whose key every holder of the job key can derive, and the job's
 * ranks, whose keys each rank draws at random and which travel only inside the encrypted endpoint
 * table (keys.ts): before the table has come, unknown keys wait; after, they are refused.
 *
 * Ranks on the same machine take two shortcuts, as MPI's shared-memory transports do: their
 * messages go over a Unix socket per pair (stream-link.ts, no ZeroMQ I/O threads in the way,
 * authenticated by a challenge-response with a key only the two share), and large arrays are not
 * sent at all but copied once out of the sender by the receiver (single-copy.ts, cma.ts). A
 * single-copy header is honoured only from the socket connection that proved it comes from the
 * rank it names. Each peer's data is delivered in send order whatever way it came (in-order.ts).
 */
import { RankFailedError, UsageError } from "../errors.js";
import { addressOf, CMA_EAGER_MIN_BYTES, CMA_MIN_BYTES, publishCmaToken, type CmaToken } from "./cma.js";
import { DType, elementBytes, isTypedCode, privateCopy } from "./dtype.js";
import { encodeHeader, headerBytes, Kind, MAX_MESSAGE_BYTES, type Envelope } from "./frame.js";
import { InOrder } from "./in-order.js";
import { pollBudget } from "./poll-budget.js";
import { nativeRecvNow, TCP_SPIN_US, TcpPoller } from "./tcp-poll.js";
import { jobKeys, randomKeyPair, type CurveKeyPair } from "./keys.js";
import { lossReason, probePeer } from "./liveness.js";
import { PeerTable, type PeerEndpoint } from "./peer-table.js";
import { Receipts } from "./receipts.js";
import type { Refusals } from "./refusals.js";
import { type SegmentSource, ShmChannel } from "./shm-channel.js";
import { SingleCopyPeers } from "./single-copy-peers.js";
import { remotePayload } from "./single-copy.js";
import { parseTcpEndpoint, StreamInbox } from "./stream-inbox.js";
import { StreamLink, type PeerLink } from "./stream-link.js";
import {
  copyStats,
  countTraffic,
  emptyStats,
  type FailureHandler,
  type LendHandler,
  type MessageHandler,
  type OutboundEnvelope,
  type Transport,
  type TransportStats,
} from "./transport.js";
import type { ZapHandler } from "./zap.js";
import { Inbox } from "./zmq-inbox.js";
import { HEARTBEAT_TIMEOUT_MS, Link, type LinkFailure } from "./zmq-link.js";
import { RANK_DOMAIN } from "./zmq-security.js";

export type { PeerEndpoint } from "./peer-table.js";

/** ACK tag by which a receiver tells a sender it has read the sender's token: CMA may be used. */
const ACK_TAG_CMA_READY = 1;
/** ACK tag of a ring offer (meta: where the ring is, shm-channel.ts). */
const ACK_TAG_RING_OFFER = 2;
/** ACK tag of a doorbell: the sender wrote into our ring while we slept. */
const ACK_TAG_BELL = 3;
const SENT: Promise<void> = Promise.resolve();
/**
 * Receipts of zero-copy sends up to this size are polled for in the rings; a larger array takes
 * the receiver longer to copy than a poll lasts, and polling then only takes CPU from it
 * (measured, 2 ranks, 16 MiB ping-pong: 3.5 ms a hop polling, 3.1 ms without the rings).
 */
const RECEIPT_POLL_MAX_BYTES = 1 << 20;
/**
 * A receipt's poll lasts at least the budget plus the time the peer's copy takes at this rate
 * (bytes per µs): a 1 MiB copy takes ~190 µs here (64 MiB one-node ping-pong: 12 ms a hop), so
 * with the plain budget (100 µs, doubled after each miss, halved after each find) about every
 * other receipt came after the poll had run out, and rang the doorbell. Measured, 2 ranks, 1 MiB
 * ping-pong, three interleaved pairs of 10000 round trips: bells 6489–10267 → 421–4695, median
 * hop 184–1636 → 121–144 µs.
 */
const RECEIPT_COPY_BYTES_PER_US = 2500;
/** Failure notices go to every peer directly up to this world size; beyond it, to peers with an open link. */
const NOTIFY_ALL_MAX = 64;

/** Options of {@link ZmqTransport.open}. */
interface ZmqTransportOptions {
  rank: number;
  size: number;
  /** Address to bind tcp on (the node's own address). */
  bindAddress: string;
  /** This process's private directory for its Unix sockets (private-dir.ts), or null to use tcp only. */
  ipcDir: string | null;
  /** The job key (src/env/secret.ts). */
  jobKey: Buffer;
  /** The process's ZAP handler. */
  zap: ZapHandler;
  /** Where refused connections are counted and logged. */
  refusals: Refusals;
  /** Reports protocol violations by authenticated peers (rate-limited by the caller's log). */
  warn?: (line: string) => void;
  /** Offer and use cross-memory attach with same-machine peers (default true; init() passes ZMPI_CMA). */
  cma?: boolean;
  /** Talk to same-machine peers over a Unix socket instead of ZeroMQ ipc (default true; init() passes ZMPI_STREAM). */
  stream?: boolean;
  /**
   * Send data to ranks on other nodes over an authenticated, unencrypted TCP connection per pair
   * instead of ZeroMQ with CURVE (default true; init() passes ZMPI_TCP_LINK: README, Security).
   */
  tcpLink?: boolean;
  /** Called when the inbox cannot accept connections any more (descriptors exhausted). */
  onExhausted?: (why: string) => void;
  /**
   * Where shared-memory segments come from for the same-node channel (shm-segment.ts), or null to
   * keep every same-node message on the Unix socket (init() passes null for ZMPI_SHM=0).
   */
  segments?: SegmentSource | null;
  /** Polling budget of a waiting receive, µs (ZMPI_SHM_SPIN_US); unset: chosen by the channel (shm-channel.ts). */
  shmSpinUs?: number;
  /** Polling budget of a receive waiting for another node, µs (ZMPI_TCP_SPIN_US); unset: tcp-poll.ts's default, 0 when oversubscribed. */
  tcpSpinUs?: number;
}

/**
 * Which way a message came: the stream socket proved its sender; a shared-memory ring is its
 * sender's own (the channel checks the header names it); ZeroMQ proved only job membership.
 */
type Via = "stream" | "ring" | "zmq";

/** The ZeroMQ transport. */
export class ZmqTransport implements Transport {
  private readonly inbox: Inbox;
  private readonly links = new Map<number, PeerLink>();
  private stream: StreamInbox | null = null;
  private readonly nextSeq: number[];
  private readonly order: InOrder<[Envelope, Buffer | null]>;
  private readonly receipts = new Receipts();
  private readonly dead = new Map<number, string>();
  private readonly table: PeerTable;
  private tableArrived!: () => void;
  private readonly tableKnown = new Promise<void>((resolve) => (this.tableArrived = resolve));
  private readonly deferredAcks: Array<[number, number, number]> = [];
  private handler: MessageHandler = () => {};
  private lender: LendHandler | null = null;
  private failureHandler: FailureHandler = () => {};
  private controlHandler: (env: Envelope, payload: Buffer | null) => void = () => {};
  private readonly counters = emptyStats();
  private closing = false;
  private readonly warned = new Set<number>();
  private readonly single: SingleCopyPeers;
  private shm: ShmChannel | null = null;
  /** Polls TCP connections from other nodes for a waiting receive (tcp-poll.ts). */
  private tcp: TcpPoller | null = null;
  /** This rank's CURVE keypair, drawn at random for this process. */
  readonly keys: CurveKeyPair = randomKeyPair();
  /** Path of the same-machine stream socket, or null. */
  get streamPath(): string | null {
    return this.stream?.path ?? null;
  }
  /** `tcp://host:port` of the TCP data port for ranks on other nodes, or null. */
  get streamTcp(): string | null {
    return this.stream?.tcpEndpoint ?? null;
  }
  /** This rank's published single-copy token, or null when it offers none. */
  get cmaToken(): CmaToken | null {
    return this.single.token;
  }
  /** The refusals of the coordinator service, when this process hosts it (for the counters). */
  coordinatorRefusals: Refusals | null = null;
  /** Bound endpoints. */
  tcpEndpoint = "";
  ipcEndpoint: string | null = null;

  private constructor(
    readonly rank: number,
    readonly size: number,
    private readonly opts: ZmqTransportOptions,
  ) {
    this.nextSeq = new Array<number>(size).fill(0);
    this.table = new PeerTable(rank, this.keys, opts.jobKey);
    this.order = new InOrder(size);
    this.inbox = new Inbox(size, (env, payload) => this.dispatch(env, payload, "zmq"), {
      keys: this.keys,
      domain: RANK_DOMAIN,
      refusals: opts.refusals,
      onExhausted: opts.onExhausted,
      warn: opts.warn && ((line) => opts.warn!(`rank ${opts.rank} ${line}`)),
    });
    this.single = new SingleCopyPeers(opts.cma !== false ? publishCmaToken() : null, (peer) => this.ack(peer, 0, ACK_TAG_CMA_READY));
    const coordinator = jobKeys(opts.jobKey).coordinatorClient.publicKey;
    opts.zap.setPolicy(RANK_DOMAIN, {
      refusals: opts.refusals,
      decide: (key) => {
        if (key.equals(coordinator)) return "admit";
        if (!this.table.known) return "wait";
        return this.table.hasKey(key) ? "admit" : "refuse";
      },
    });
  }

  /** Binds the inbox and starts reading. */
  static async open(opts: ZmqTransportOptions): Promise<ZmqTransport> {
    const t = new ZmqTransport(opts.rank, opts.size, opts);
    t.tcpEndpoint = await t.inbox.bind(`tcp://${opts.bindAddress}:*`);
    const inbox = new StreamInbox({
      rank: opts.rank,
      worldSize: opts.size,
      keyFor: async (r) => {
        await t.tableKnown;
        return t.table.pairKey(r);
      },
      tableKnown: () => t.table.known,
      refusals: opts.refusals,
      handler: (env, payload) => t.dispatch(env, payload, "stream"),
      onCut: (r) => t.lost(r, "disconnected"),
      lend: (env, bytes, revoke) => t.lend(env, bytes, revoke),
    });
    const streams = opts.stream !== false && process.platform !== "win32";
    if (opts.ipcDir !== null) {
      // Unix socket paths are limited to ~107 bytes; fall back to tcp rather than fail.
      const path = `${opts.ipcDir}/r${opts.rank}.zmq`;
      if (path.length < 100) t.ipcEndpoint = await t.inbox.bind(`ipc://${path}`);
      const streamPath = `${opts.ipcDir}/r${opts.rank}.sock`;
      if (streams && streamPath.length < 100) await inbox.listenUnix(streamPath);
    }
    const host = parseTcpEndpoint(t.tcpEndpoint)?.host;
    if (opts.tcpLink !== false && host) await inbox.listenTcp(host);
    if (inbox.path !== null || inbox.tcpEndpoint !== null) t.stream = inbox;
    // Rings are offered over the stream socket: no socket, no rings.
    if (opts.segments && inbox.path !== null) t.shm = new ShmChannel(t.channelHost(), opts.segments, opts.shmSpinUs);
    t.inbox.start();
    return t;
  }

  /** Installs the endpoint table learned at rendezvous. */
  setPeers(peers: PeerEndpoint[]): void {
    try {
      this.table.set(peers);
    } catch (e) {
      throw new RankFailedError((e as Error).message, { op: "rendezvous" });
    }
    this.opts.zap.recheck();
    this.tableArrived();
    for (const [src, seq, tag] of this.deferredAcks.splice(0)) this.ack(src, seq, tag);
    // Single copy only where both ends have the stream socket, which is what proves a header's sender.
    const candidates = this.stream ? peers.filter((p) => p.rank !== this.rank && p.cma && p.stream && this.table.sameMachine(p.rank)) : [];
    this.single.start(candidates);
    const ringPeers = this.stream?.path ? peers.filter((p) => p.rank !== this.rank && p.stream && this.table.sameMachine(p.rank)).map((p) => p.rank) : [];
    const recvNow = this.stream?.tcpEndpoint ? nativeRecvNow() : null;
    if (recvNow && this.stream) {
      const local = peers.filter((p) => p.rank === this.rank || this.table.sameMachine(p.rank)).length;
      this.tcp = new TcpPoller(this.stream, recvNow, pollBudget(this.opts.tcpSpinUs, TCP_SPIN_US, local));
    }
    try {
      this.shm?.start(ringPeers.map((r) => ({ rank: r, pid: this.table.get(r)!.pid })));
    } catch (e) {
      this.opts.warn?.(`rank ${this.rank}: no shared-memory channel (${(e as Error).message}); same-node messages go over the socket`);
      this.shm = null;
    }
  }

  /** How the same-node channel reaches the rest of the transport. */
  private channelHost() {
    // The same empty frame to every peer: it says only "look at your rings".
    const bellFrame = encodeHeader({ comm: 0, src: this.rank, tag: ACK_TAG_BELL, seq: 0, kind: Kind.ACK, dtype: DType.NONE, count: 0 });
    return {
      rank: this.rank,
      size: this.size,
      offer: (peer: number, offer: string) => this.control(peer, ACK_TAG_RING_OFFER, offer),
      bell: (peer: number) => {
        this.counters.doorbellsRung++;
        this.link(peer)
          ?.send([bellFrame])
          .catch(() => {});
      },
      deliver: (env: Envelope, payload: Buffer | null) => {
        this.counters.sharedMemoryReceived++;
        this.dispatch(env, payload, "ring");
      },
      broken: (peer: number, why: string) =>
        this.report(peer, `rank ${peer}'s messages to rank ${this.rank} through shared memory are corrupt (${why}): nothing after them can be trusted`),
    };
  }

  /** Sends an ACK-kind control frame with a meta text over the peer's stream socket. */
  private control(peer: number, tag: number, meta: string): void {
    const header = encodeHeader({ comm: 0, src: this.rank, tag, seq: 0, kind: Kind.ACK, dtype: DType.NONE, count: 0, meta });
    this.link(peer)
      ?.send([header])
      .catch(() => {});
  }

  /** Polls the shared-memory rings while receives wait for `sources` (-1: any); see shm-channel.ts. */
  spin(sources: readonly number[], done: (i: number) => boolean): void {
    this.shm?.spin(sources, done);
    this.tcp?.spin(sources, done);
  }

  private ack(src: number, seq: number, tag = 0): void {
    if (!this.table.known) {
      // A faster peer got the table first and already sent to us: answer once we know its address.
      this.deferredAcks.push([src, seq, tag]);
      return;
    }
    const env: Envelope = { comm: 0, src: this.rank, tag, seq: 0, kind: Kind.ACK, dtype: DType.NONE, count: seq };
    if (tag === 0 && this.shm?.trySend(src, -1, env, null)) return;
    this.link(src)
      ?.send([encodeHeader(env)])
      .catch(() => {});
  }

  /** Peers this rank writes small messages to through their shared-memory rings (tests, `zmpi info`). */
  sharedMemoryPeers(): number[] {
    return this.shm
      ? this.table
          .all()
          .map((p) => p.rank)
          .filter((r) => this.shm!.sendsTo(r))
      : [];
  }

  /** Peers this rank sends large arrays to by cross-memory attach. */
  singleCopyPeers(): number[] {
    return this.single.sendingTo();
  }

  /** The table entry of a rank, if known. */
  peer(rank: number): PeerEndpoint | undefined {
    return this.table.get(rank);
  }

  /** The stream-socket key this rank shares with `rank` (tests act as a rank with it). */
  pairKey(rank: number): Buffer | null {
    return this.table.pairKey(rank);
  }

  onMessage(handler: MessageHandler): void {
    this.handler = handler;
  }

  onLend(handler: LendHandler): void {
    this.lender = handler;
  }

  /**
   * A stream payload may be read into a posted receive's memory only if it is the next message in
   * its sender's order: then nothing from that sender can reach the receive before it.
   */
  private lend(env: Envelope, bytes: number, revoke: () => void): Uint8Array | null {
    if (!this.lender || env.src < 0 || env.src === this.rank || this.order.next(env.src) !== env.seq) return null;
    const mem = this.lender(env, bytes, () => {
      this.counters.receivedInPlace--;
      this.counters.inPlaceTakenBack++;
      revoke();
    });
    if (mem) this.counters.receivedInPlace++;
    return mem;
  }

  onFailure(handler: FailureHandler): void {
    this.failureHandler = handler;
  }

  /** Receives CONTROL messages: from the coordinator (`src` -1) and failure notices from peers. */
  onControl(handler: (env: Envelope, payload: Buffer | null) => void): void {
    this.controlHandler = handler;
  }

  private violation(src: number, what: string): void {
    this.counters.malformedDropped++;
    if (this.warned.has(src)) return;
    this.warned.add(src);
    this.opts.warn?.(`rank ${this.rank} dropped a message from rank ${src}: ${what} (later ones are only counted)`);
  }

  private dispatch(env: Envelope, payload: Buffer | null, via: Via): void {
    if (via === "stream") {
      this.single.contact(env.src);
      if (this.shm) {
        this.shm.contact(env.src);
        // Messages written into the ring before this one are read first (the fewer held, the better).
        this.shm.poll();
      }
    }
    if (env.kind === Kind.CONTROL) {
      if (via !== "ring") this.controlHandler(env, payload);
      return;
    }
    if (env.kind === Kind.ACK) {
      if (env.tag !== 0 && env.tag !== ACK_TAG_BELL && via !== "stream") return; // offers and readiness only from the socket that proves the sender
      if (env.tag === ACK_TAG_CMA_READY) {
        if (env.src !== this.rank) this.single.peerCanRead(env.src);
        return;
      }
      if (env.tag === ACK_TAG_BELL) {
        this.shm?.sleep();
        return;
      }
      if (env.tag === ACK_TAG_RING_OFFER) {
        const p = this.table.get(env.src);
        if (p && this.shm && env.meta !== undefined && this.table.sameMachine(env.src)) this.shm.accept(env.src, p.pid, env.meta, this.nextSeq[env.src]! - 1);
        return;
      }
      this.receipts.settle(env.src, env.count);
      return;
    }
    if (env.src < 0) return; // data never comes from the coordinator service
    if (env.cma !== undefined && via === "zmq")
      return void this.violation(env.src, "a single-copy header over ZeroMQ (only the authenticated stream socket or the sender's ring may carry one)");
    // One peer's data may come over two connections: deliver it in the peer's send order.
    const r = this.order.push(env.src, env.seq, [env, payload], this.deliverNext, payload?.length ?? 0, keepPrivate);
    if (r === "repeat") this.counters.malformedDropped++;
    else if (r === "too-far" || r === "too-much")
      this.violation(env.src, `message ${env.seq} ${r === "too-far" ? "is too far ahead of" : "would hold too much before"} the one expected`);
  }

  private readonly deliverNext = ([env, payload]: [Envelope, Buffer | null]): void => this.deliverData(env, payload);

  private deliverData(env: Envelope, payload: Buffer | null): void {
    this.shm?.delivered(env.src, env.seq);
    if (env.cma !== undefined) {
      this.dispatchSingleCopy(env);
      return;
    }
    countTraffic(this.counters, this.table.kindOf(env.src), "received", payload ? payload.length : 0);
    if (env.ack === 1) this.ack(env.src, env.seq);
    this.handler(env, payload);
  }

  /** A message whose bytes are still in the sender: handed on as a {@link RemotePayload}. */
  private dispatchSingleCopy(env: Envelope): void {
    const src = env.src;
    const peer = this.table.get(src);
    if (!peer || !this.single.canReadFrom(src)) {
      // Only a peer we told we can read it may send these; anything else is not ours.
      this.violation(src, "a single-copy header from a rank this one never offered to read");
      return;
    }
    const byteLength = env.count * elementBytes(env.dtype);
    countTraffic(this.counters, "node", "received", byteLength);
    const remote = remotePayload({
      src,
      pid: peer.pid,
      seq: env.seq,
      address: env.cma!,
      byteLength,
      release: (read) => {
        this.ack(src, env.seq);
        if (read) {
          this.counters.singleCopyReceived++;
          this.counters.singleCopyBytes += byteLength;
        }
      },
    });
    delete env.cma;
    this.handler(env, null, remote);
  }

  /** The link to a peer: the stream socket for a same-machine peer that offers one, else ZeroMQ. */
  private link(rank: number): PeerLink | undefined {
    let l = this.links.get(rank);
    if (l) return l;
    const ep = this.table.endpointOf(rank);
    if (!ep) return undefined;
    const zmqLink = () => new Link(ep, { keys: this.keys, serverKey: this.table.get(rank)!.key }, (why) => this.lost(rank, why));
    const p = this.table.get(rank)!;
    const key = this.table.pairKey(rank);
    const lost = (why: LinkFailure) => this.lost(rank, why);
    const same = this.table.sameMachine(rank);
    // Same machine: the Unix socket. Another node: the TCP data port, when both ends offer one.
    const tcp = !same && p.streamTcp && this.stream?.tcpEndpoint ? parseTcpEndpoint(p.streamTcp) : null;
    const target = same && p.stream && this.stream?.path ? { path: p.stream } : tcp;
    l = target && key ? new StreamLink(target, this.rank, rank, key, lost, zmqLink) : zmqLink();
    this.links.set(rank, l);
    return l;
  }

  private lost(rank: number, why: LinkFailure): void {
    if (this.closing || this.dead.has(rank)) return;
    const p = this.table.get(rank);
    const who = p ? `rank ${rank} (pid ${p.pid} on ${p.nodeName})` : `rank ${rank}`;
    if (why === "auth") {
      const l = this.links.get(rank);
      const detail = l instanceof StreamLink && l.authError ? l.authError : "our keys do not match (a different job secret or job?)";
      return void this.report(rank, `${who} refused our connection or could not prove who it is: ${detail}`);
    }
    if (!p) return void this.report(rank, lossReason(who, "gone", 0));
    void probePeer(p, this.table.sameMachine(rank)).then((state) => this.report(rank, lossReason(who, state, HEARTBEAT_TIMEOUT_MS)));
  }

  private report(rank: number, reason: string): void {
    if (this.closing || this.dead.has(rank)) return;
    this.markDead(rank, reason);
    this.failureHandler(rank, reason);
  }

  /** Records a peer as gone: its pending receipts reject and later sends to it fail. */
  markDead(rank: number, reason: string): void {
    if (this.dead.has(rank)) return;
    this.dead.set(rank, reason);
    const err = new RankFailedError(reason, { ranks: [rank], op: "send" });
    this.receipts.failPeer(rank, err);
    this.links.get(rank)?.fail(err);
    this.shm?.forget(rank);
  }

  /** Marks a peer's coming disconnect as expected (it said goodbye). */
  expectClose(rank: number): void {
    const l = this.links.get(rank);
    if (l) l.expectClose = true;
  }

  /**
   * Sends CONTROL frames (a failure notice) straight to peers, not through the coordinator, which
   * may be what failed: to every peer in a world of up to 64 ranks, else to those with an open link.
   */
  notifyPeers(frames: Buffer[]): void {
    if (!this.table.known) return;
    const targets = this.size <= NOTIFY_ALL_MAX ? this.table.all().map((p) => p.rank) : [...this.links.keys()];
    for (const r of targets) {
      if (r === this.rank || this.dead.has(r)) continue;
      this.link(r)
        ?.send(frames)
        .catch(() => {});
    }
  }

  send(dest: number, env: OutboundEnvelope, payload: Uint8Array | null, zeroCopy: boolean): Promise<void> {
    if (payload && payload.byteLength > MAX_MESSAGE_BYTES) {
      return Promise.reject(new UsageError(`a message of ${payload.byteLength} bytes is larger than zmpi delivers (${MAX_MESSAGE_BYTES}); send it in parts`, { op: "send" }));
    }
    const seq = this.nextSeq[dest]!++;
    countTraffic(this.counters, this.table.kindOf(dest), "sent", payload ? payload.byteLength : 0);
    if (dest === this.rank) return this.sendSelf({ ...env, src: this.rank, seq }, payload);
    const deadReason = this.dead.get(dest);
    if (deadReason) return Promise.reject(new RankFailedError(deadReason, { ranks: [dest], op: "send" }));
    const link = this.link(dest);
    if (!link) return Promise.reject(new RankFailedError(`no endpoint known for rank ${dest}`, { ranks: [dest], op: "send" }));
    const full: Envelope = { comm: env.comm, src: this.rank, tag: env.tag, seq, kind: env.kind, dtype: env.dtype, count: env.count, meta: env.meta };
    const bytes = payload !== null && env.dtype !== DType.NONE ? payload : null;
    const ring = this.shm?.sendsTo(dest) ? this.shm : null;
    let ringTooSmall = false;
    if (ring) {
      // Small messages to a same-node peer: header and bytes written into its ring, done (the
      // caller's buffer is free). Headers are encoded only where they go: the ring or the socket.
      if (headerBytes(full) + (bytes ? bytes.byteLength : 0) > ring.maxBody) ringTooSmall = true;
      else if (ring.trySend(dest, seq, full, bytes)) return SENT;
    }
    const streamProven = link instanceof StreamLink && link.authenticated;
    if (zeroCopy && streamProven && bytes !== null && !this.single.peerReads(dest)) {
      // Over a stream socket (across nodes: TCP) the bytes are the kernel's once written: the
      // send resolves then, with no receipt to wait for, as MPI's TCP transport does.
      ring?.sentBySocket(dest, seq);
      return link.sendWritten([encodeHeader(full), bytes]).catch((e: Error) => {
        throw new RankFailedError(this.dead.get(dest) ?? `the connection to rank ${dest} failed while sending: ${e.message}`, { ranks: [dest], op: "send" });
      });
    }
    if (zeroCopy) full.ack = 1;
    // The receiver copies the bytes out of this process; `payload` stays referenced by the frames'
    // closure below until the receipt, so the array is neither freed nor (by contract) reused.
    // Only through the peer's ring or an authenticated stream socket: the receiver honours the
    // header from nowhere else. An eager send's payload is already a private copy of ours: it may
    // go by single copy too, kept alive until the receipt while the send itself resolves at once.
    // With a ring, everything that does not fit in it goes by single copy: a receive polling the
    // ring sees its header at once, where one coming by the socket would wait out the polling.
    const single =
      payload !== null &&
      isTypedCode(env.dtype) &&
      this.single.peerReads(dest) &&
      (ringTooSmall || (streamProven && payload.byteLength >= (zeroCopy ? CMA_MIN_BYTES : CMA_EAGER_MIN_BYTES)));
    if (single) {
      full.cma = addressOf(payload);
      full.ack = 1;
    }
    const byRing = single && ring?.trySend(dest, seq, full, null) === true;
    // Whatever goes by the socket holds later messages there until the peer has delivered it.
    if (ring && !byRing) ring.sentBySocket(dest, seq);
    if (single && !byRing && !streamProven) {
      // The ring is full and the socket is not proven yet: the bytes go as bytes.
      delete full.cma;
      if (!zeroCopy) delete full.ack;
      return this.sendFrames(link, dest, seq, [encodeHeader(full), payload], zeroCopy, false, payload);
    }
    if (byRing) return this.sendFrames(null, dest, seq, [], zeroCopy, single, payload);
    const frames = bytes !== null && !single ? [encodeHeader(full), bytes] : [encodeHeader(full)];
    return this.sendFrames(link, dest, seq, frames, zeroCopy, single, payload);
  }

  /**
   * Hands frames to the link (none: already in the peer's ring) and ties the send's promise to
   * the receipt where one is due: a zero-copy send waits for it; a single-copy eager send's
   * private copy is only kept alive until it.
   */
  private sendFrames(
    link: PeerLink | null,
    dest: number,
    seq: number,
    frames: (Buffer | Uint8Array)[],
    zeroCopy: boolean,
    single: boolean,
    payload: Uint8Array | null,
  ): Promise<void> {
    const sent = link ? link.send(frames) : SENT;
    if (!zeroCopy && !single) return sent;
    const acked = this.receipts.wait(dest, seq).then(() => keepAlive(payload));
    if (zeroCopy && link === null && payload !== null && payload.byteLength <= RECEIPT_POLL_MAX_BYTES) {
      // The header went through the peer's ring and its receipt will come through ours: poll
      // for it, as a receive does, once the caller's turn has run (measured, 2 ranks, 128 KiB
      // ping-pong: 117 µs a hop when every receipt rang the doorbell).
      const copyUs = payload.byteLength / RECEIPT_COPY_BYTES_PER_US;
      queueMicrotask(() => this.shm?.spin([dest], () => !this.receipts.awaits(dest, seq), this.shm.spinUs + copyUs));
    }
    if (zeroCopy) return sent.then(() => acked);
    // Our own copy: the receipt only frees it (a peer that dies meanwhile is reported elsewhere).
    acked.catch(() => {});
    return sent;
  }

  private sendSelf(env: Envelope, payload: Uint8Array | null): Promise<void> {
    // A private copy: the receiver must not see the sender's later writes, whatever the size.
    const copy = payload ? privateCopy(payload) : null;
    queueMicrotask(() => {
      countTraffic(this.counters, "self", "received", copy ? copy.length : 0);
      this.handler(env, copy);
    });
    return Promise.resolve();
  }

  stats(): TransportStats {
    const st = this.stream;
    return {
      ...copyStats(this.counters),
      malformedDropped: this.inbox.malformed + this.counters.malformedDropped + (st ? st.malformed : 0),
      refusedConnections: this.opts.refusals.total,
      refusedByCoordinator: this.coordinatorRefusals?.total ?? 0,
      tcpPollHits: this.tcp?.hits ?? 0,
    };
  }

  /** The last reason a frame was dropped, for diagnostics. */
  lastMalformed(): string {
    return this.stream?.lastMalformed || this.inbox.lastMalformed;
  }

  async close(): Promise<void> {
    this.closing = true;
    this.single.stop();
    this.shm?.close();
    const err = new RankFailedError("transport closed", { op: "send" });
    this.receipts.failAll(err);
    for (const l of this.links.values()) {
      l.expectClose = true;
      l.close();
    }
    this.links.clear();
    this.inbox.close();
    this.stream?.close();
    this.opts.zap.dropPolicy(RANK_DOMAIN);
    this.opts.refusals.summarize();
  }
}

/** A held message keeps a copy of its payload: a slice of a socket read would pin the whole read buffer. */
function keepPrivate([env, payload]: [Envelope, Buffer | null]): [Envelope, Buffer | null] {
  return [env, payload && payload.byteLength !== payload.buffer.byteLength ? Buffer.from(payload) : payload];
}

/** Holds a reference until called (the sender's memory must outlive a single-copy read). */
function keepAlive(_payload: Uint8Array | null): void {}
