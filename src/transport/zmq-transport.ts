/**
 * The real transport: one bound PULL inbox per rank (tcp on the node's address, plus ipc for ranks
 * on the same node) and one lazily opened PUSH link per peer. Payload frames carry typed-array
 * bytes as they are. A zero-copy send resolves when the receiver acknowledges the message, because
 * zeromq reads the caller's memory after `send()` has returned.
 *
 * Ranks on the same machine take two shortcuts, as MPI's shared-memory transports do: their
 * messages go over a Unix socket per pair (stream-link.ts, no ZeroMQ I/O threads in the way), and
 * large arrays are not sent at all but copied once out of the sender by the receiver
 * (single-copy.ts, cma.ts). Each peer's data is delivered in send order whatever way it came
 * (in-order.ts).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { RankFailedError } from "../errors.js";
import { addressOf, canReadPeer, CMA_MIN_BYTES, publishCmaToken, type CmaToken } from "./cma.js";
import { InOrder } from "./in-order.js";
import { remotePayload } from "./single-copy.js";
import { DType, elementBytes, isTypedCode, privateCopy } from "./dtype.js";
import { encodeHeader, Kind, type Envelope } from "./frame.js";
import { Inbox } from "./zmq-inbox.js";
import { Link, type LinkFailure } from "./zmq-link.js";
import { StreamInbox } from "./stream-inbox.js";
import { StreamLink, type PeerLink } from "./stream-link.js";
import { copyStats, countTraffic, emptyStats, type PeerKind, type FailureHandler, type MessageHandler, type OutboundEnvelope, type Transport, type TransportStats } from "./transport.js";

/**
 * Payloads at least this large go to a same-machine peer over ZeroMQ even when the stream socket
 * carries the rest (they only take this way without single copy: larger zero-copy arrays are
 * read out of the sender). Measured at np=2 with ZMPI_CMA=0, socket vs ZeroMQ: 16 KiB half round
 * trip 102 vs 180 µs, 64 KiB 294 vs 349 µs, 1 MiB 2.2 vs 1.3 ms; bandwidth 32 KiB 462 vs 436
 * MB/s, 1 MiB 655 vs 1715 MB/s, 16 MiB 656 vs 1458 MB/s.
 */
const STREAM_MAX_PAYLOAD = 64 * 1024;
/** ACK tag by which a receiver tells a sender it has read the sender's token: CMA may be used. */
const ACK_TAG_CMA_READY = 1;

/** How to reach one rank. */
export interface PeerEndpoint {
  /** World rank. */
  rank: number;
  /** `tcp://addr:port` on the rank's node address. */
  tcp: string;
  /** `ipc://path`, usable by ranks on the same host, or null. */
  ipc: string | null;
  /** Node name the rank runs on. */
  nodeName: string;
  /** `os.hostname()` of the rank's machine (ipc needs the same machine, not only the same node name). */
  hostname: string;
  /** Process id, for error messages and cross-memory attach. */
  pid: number;
  /** Token for cross-memory attach, or null/absent when the rank offers none. */
  cma?: CmaToken | null;
  /** Path of the rank's same-machine stream socket (Unix socket), or null/absent. */
  stream?: string | null;
}

/** Options of {@link ZmqTransport.open}. */
export interface ZmqTransportOptions {
  rank: number;
  size: number;
  /** Address to bind tcp on (the node's own address). */
  bindAddress: string;
  /** Directory for the ipc endpoint, or null to use tcp only. */
  ipcDir: string | null;
  /** A tag unique to the job step, used in the ipc file name. */
  jobTag: string;
  /** The job secret every connection presents. */
  secret: string;
  /** Offer and use cross-memory attach with same-machine peers (default true; ZMPI_CMA=0 also turns it off). */
  cma?: boolean;
  /** Talk to same-machine peers over a Unix socket instead of ZeroMQ ipc (default true; ZMPI_STREAM=0 also turns it off). */
  stream?: boolean;
}

interface AckWaiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

/** The ZeroMQ transport. */
export class ZmqTransport implements Transport {
  private readonly inbox: Inbox;
  private readonly links = new Map<number, PeerLink>();
  private stream: StreamInbox | null = null;
  private readonly nextSeq: number[];
  private readonly order: InOrder<[Envelope, Buffer | null]>;
  /** ZeroMQ links to same-machine peers, for payloads too large for the stream socket. */
  private readonly bulkLinks = new Map<number, Link>();
  private readonly acks = new Map<number, Map<number, AckWaiter>>();
  private readonly dead = new Map<number, string>();
  private peers: PeerEndpoint[] = [];
  private readonly deferredAcks: Array<[number, number]> = [];
  private me: PeerEndpoint | null = null;
  private handler: MessageHandler = () => {};
  private failureHandler: FailureHandler = () => {};
  private controlHandler: (env: Envelope, payload: Buffer | null) => void = () => {};
  private readonly counters = emptyStats();
  private closing = false;
  private readonly kinds: (PeerKind | undefined)[] = [];
  /** Peers whose memory this rank has proven it can read. */
  private readonly cmaFrom = new Set<number>();
  /** Peers that have proven they can read this rank's memory. */
  private readonly cmaTo = new Set<number>();
  /** This rank's published token, or null when it offers no cross-memory attach. */
  cmaToken: CmaToken | null = null;
  /** Path of the same-machine stream socket, or null. */
  get streamPath(): string | null {
    return this.stream?.path ?? null;
  }
  /** Bound endpoints. */
  tcpEndpoint = "";
  ipcEndpoint: string | null = null;

  private constructor(
    readonly rank: number,
    readonly size: number,
    private readonly secret: string,
  ) {
    this.nextSeq = new Array<number>(size).fill(0);
    this.order = new InOrder(size);
    this.inbox = new Inbox(size, (env, payload) => this.dispatch(env, payload));
  }

  /** Binds the inbox and starts reading. */
  static async open(opts: ZmqTransportOptions): Promise<ZmqTransport> {
    const t = new ZmqTransport(opts.rank, opts.size, opts.secret);
    if (opts.cma !== false) t.cmaToken = publishCmaToken();
    t.tcpEndpoint = await t.inbox.bind(`tcp://${opts.bindAddress}:*`);
    if (opts.ipcDir !== null) {
      mkdirSync(opts.ipcDir, { recursive: true, mode: 0o700 });
      const path = join(opts.ipcDir, `${opts.jobTag}-r${opts.rank}.sock`);
      // Unix socket paths are limited to ~107 bytes; fall back to tcp rather than fail.
      if (path.length < 100) t.ipcEndpoint = await t.inbox.bind(`ipc://${path}`);
      const streamPath = join(opts.ipcDir, `${opts.jobTag}-r${opts.rank}.s`);
      if (opts.stream !== false && process.env.ZMPI_STREAM !== "0" && process.platform !== "win32" && streamPath.length < 100) {
        t.stream = await StreamInbox.listen(streamPath, opts.secret, opts.size, (env, payload) => t.dispatch(env, payload));
      }
    }
    t.inbox.start();
    return t;
  }

  /** Installs the endpoint table learned at rendezvous. */
  setPeers(peers: PeerEndpoint[]): void {
    this.peers = peers;
    this.me = peers[this.rank] ?? null;
    for (const [src, seq] of this.deferredAcks.splice(0)) this.ack(src, seq);
    if (this.cmaToken) {
      for (const p of peers) {
        if (p.rank === this.rank || !p.cma || !this.sameMachine(p.rank)) continue;
        if (!canReadPeer(p.pid, p.cma)) continue;
        this.cmaFrom.add(p.rank);
        this.ack(p.rank, 0, ACK_TAG_CMA_READY);
      }
    }
  }

  private ack(src: number, seq: number, tag = 0): void {
    if (this.peers.length === 0) {
      // A faster peer got the table first and already sent to us: answer once we know its address.
      this.deferredAcks.push([src, seq]);
      return;
    }
    const header = encodeHeader({ comm: 0, src: this.rank, tag, seq: 0, kind: Kind.ACK, dtype: DType.NONE, count: seq });
    this.link(src)?.send([header]).catch(() => {});
  }

  /** Peers this rank sends large arrays to by cross-memory attach. */
  singleCopyPeers(): number[] {
    return [...this.cmaTo].sort((a, b) => a - b);
  }

  /** The table entry of a rank, if known. */
  peer(rank: number): PeerEndpoint | undefined {
    return this.peers[rank];
  }

  onMessage(handler: MessageHandler): void {
    this.handler = handler;
  }

  onFailure(handler: FailureHandler): void {
    this.failureHandler = handler;
  }

  /** Receives CONTROL messages (from the coordinator). */
  onControl(handler: (env: Envelope, payload: Buffer | null) => void): void {
    this.controlHandler = handler;
  }

  private dispatch(env: Envelope, payload: Buffer | null): void {
    if (env.kind === Kind.CONTROL) {
      this.controlHandler(env, payload);
      return;
    }
    if (env.kind === Kind.ACK) {
      if (env.tag === ACK_TAG_CMA_READY) {
        if (env.src >= 0 && env.src !== this.rank && this.cmaToken) this.cmaTo.add(env.src);
        return;
      }
      const waiter = this.acks.get(env.src)?.get(env.count);
      if (waiter) {
        this.acks.get(env.src)!.delete(env.count);
        waiter.resolve();
      }
      return;
    }
    if (env.src < 0) return; // data never comes from the coordinator service
    // One peer's data may come over two connections: deliver it in the peer's send order.
    if (!this.order.push(env.src, env.seq, [env, payload], this.deliverNext)) this.counters.malformedDropped++; // a repeat
  }

  private readonly deliverNext = ([env, payload]: [Envelope, Buffer | null]): void => this.deliverData(env, payload);

  private deliverData(env: Envelope, payload: Buffer | null): void {
    if (env.cma !== undefined) {
      this.dispatchSingleCopy(env);
      return;
    }
    countTraffic(this.counters, this.kindOf(env.src), "received", payload ? payload.length : 0);
    if (env.ack === 1) this.ack(env.src, env.seq);
    this.handler(env, payload);
  }

  /** A message whose bytes are still in the sender: handed on as a {@link RemotePayload}. */
  private dispatchSingleCopy(env: Envelope): void {
    const src = env.src;
    const peer = this.peers[src];
    if (!peer || !this.cmaFrom.has(src)) {
      // Only a peer we told we can read it may send these; anything else is not ours.
      this.counters.malformedDropped++;
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

  /** Same host and node: ipc and cross-memory attach work. */
  private sameMachine(rank: number): boolean {
    const p = this.peers[rank];
    return !!p && !!this.me && p.hostname === this.me.hostname && p.nodeName === this.me.nodeName;
  }

  /** Where a peer is, for the traffic counters (worked out once per peer: it is on every message's path). */
  private kindOf(rank: number): PeerKind {
    if (rank === this.rank) return "self";
    let k = this.kinds[rank];
    if (k === undefined && this.peers.length > 0) k = this.kinds[rank] = this.sameMachine(rank) ? "node" : "remote";
    return k ?? "remote";
  }

  /** Chooses ipc for a peer on the same machine and node, tcp otherwise. */
  private endpointOf(rank: number): string | undefined {
    const p = this.peers[rank];
    if (!p) return undefined;
    if (p.ipc && this.sameMachine(rank)) return p.ipc;
    return p.tcp;
  }

  /** The link to a peer: the stream socket for a same-machine peer that offers one, else ZeroMQ. */
  private link(rank: number): PeerLink | undefined {
    let l = this.links.get(rank);
    if (l) return l;
    const ep = this.endpointOf(rank);
    if (!ep) return undefined;
    const zmqLink = () => new Link(ep, this.secret, (why) => this.lost(rank, why));
    const path = this.peers[rank]?.stream;
    l = path && this.stream && this.sameMachine(rank) ? new StreamLink(path, this.rank, this.secret, (why) => this.lost(rank, why), zmqLink) : zmqLink();
    this.links.set(rank, l);
    return l;
  }

  private lost(rank: number, why: LinkFailure): void {
    if (this.closing) return;
    const p = this.peers[rank];
    const who = p ? `rank ${rank} (pid ${p.pid} on ${p.nodeName})` : `rank ${rank}`;
    const reason =
      why === "auth"
        ? `${who} refused our connection: the job secret differs (ZMPI_SECRET)`
        : `${who} closed its connection: the process exited or crashed`;
    this.markDead(rank, reason);
    this.failureHandler(rank, reason);
  }

  /** Records a peer as gone: its pending receipts reject and later sends to it fail. */
  markDead(rank: number, reason: string): void {
    if (this.dead.has(rank)) return;
    this.dead.set(rank, reason);
    const err = new RankFailedError(reason, { ranks: [rank], op: "send" });
    const waiting = this.acks.get(rank);
    if (waiting) {
      for (const w of waiting.values()) w.reject(err);
      waiting.clear();
    }
    this.links.get(rank)?.fail(err);
    this.bulkLinks.get(rank)?.fail(err);
  }

  /** Marks a peer's coming disconnect as expected (it said goodbye). */
  expectClose(rank: number): void {
    const l = this.links.get(rank);
    if (l) l.expectClose = true;
    const b = this.bulkLinks.get(rank);
    if (b) b.expectClose = true;
  }

  send(dest: number, env: OutboundEnvelope, payload: Uint8Array | null, zeroCopy: boolean): Promise<void> {
    const seq = this.nextSeq[dest]!++;
    countTraffic(this.counters, this.kindOf(dest), "sent", payload ? payload.byteLength : 0);
    if (dest === this.rank) return this.sendSelf({ ...env, src: this.rank, seq }, payload);
    const deadReason = this.dead.get(dest);
    if (deadReason) return Promise.reject(new RankFailedError(deadReason, { ranks: [dest], op: "send" }));
    const link = this.link(dest);
    if (!link) return Promise.reject(new RankFailedError(`no endpoint known for rank ${dest}`, { ranks: [dest], op: "send" }));
    const full: Envelope = { comm: env.comm, src: this.rank, tag: env.tag, seq, kind: env.kind, dtype: env.dtype, count: env.count, meta: env.meta };
    if (zeroCopy) full.ack = 1;
    // The receiver copies the bytes out of this process; `payload` stays referenced by the frames'
    // closure below until the receipt, so the array is neither freed nor (by contract) reused.
    const single = zeroCopy && payload !== null && payload.byteLength >= CMA_MIN_BYTES && isTypedCode(env.dtype) && this.cmaTo.has(dest);
    if (single) full.cma = addressOf(payload);
    const header = encodeHeader(full);
    const withPayload = payload !== null && env.dtype !== DType.NONE && !single;
    const frames = withPayload ? [header, payload] : [header];
    // Node reads a Unix socket in 64 KiB pieces through its stream machinery: for large payloads
    // ZeroMQ's I/O threads are faster (the receiver puts the two connections back in order).
    const via = withPayload && payload.byteLength >= STREAM_MAX_PAYLOAD && link instanceof StreamLink ? this.bulkLink(dest) : link;
    if (!zeroCopy) return via.send(frames);
    const acked = new Promise<void>((resolve, reject) => {
      let m = this.acks.get(dest);
      if (!m) this.acks.set(dest, (m = new Map()));
      m.set(seq, { resolve, reject });
    });
    return via.send(frames).then(() => acked.then(() => keepAlive(payload)));
  }

  private bulkLink(rank: number): Link {
    let l = this.bulkLinks.get(rank);
    if (!l) {
      l = new Link(this.endpointOf(rank)!, this.secret, (why) => this.lost(rank, why));
      this.bulkLinks.set(rank, l);
    }
    return l;
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
      refusedConnections: this.inbox.refused + (st ? st.refused : 0),
    };
  }

  /** The last reason a frame was dropped, for diagnostics. */
  lastMalformed(): string {
    return this.stream?.lastMalformed || this.inbox.lastMalformed;
  }

  async close(): Promise<void> {
    this.closing = true;
    const err = new RankFailedError("transport closed", { op: "send" });
    for (const m of this.acks.values()) for (const w of m.values()) w.reject(err);
    this.acks.clear();
    for (const l of this.links.values()) {
      l.expectClose = true;
      l.close();
    }
    this.links.clear();
    for (const l of this.bulkLinks.values()) {
      l.expectClose = true;
      l.close();
    }
    this.bulkLinks.clear();
    this.inbox.close();
    this.stream?.close();
  }
}

/** Holds a reference until called (the sender's memory must outlive a single-copy read). */
function keepAlive(_payload: Uint8Array | null): void {}
