/**
 * The coordinator service: runs in one process of the job (task 0 of the first node), collects
 * every rank's HELLO, refuses duplicates and mismatches, hands out the endpoint table, then stays
 * up as the job's failure detector: it holds one connection to every rank, so the death of any rank
 * is seen here at once and broadcast to all others as an ABORT naming it.
 *
 * Its port is a CURVE server whose keypair, like the client key ranks present to it, is derived
 * from the job key (keys.ts): only holders of the job key can connect, and a rank that connects to
 * a squatter on the port learns so from the failed handshake without having said anything.
 */
import { RendezvousError } from "../errors.js";
import { Kind } from "../transport/frame.js";
import { jobKeys, type JobKeys } from "../transport/keys.js";
import { lossReason, probePeer } from "../transport/liveness.js";
import { Refusals } from "../transport/refusals.js";
import type { ZapHandler } from "../transport/zap.js";
import { Inbox } from "../transport/zmq-inbox.js";
import { HEARTBEAT_TIMEOUT_MS, Link } from "../transport/zmq-link.js";
import { COORDINATOR_DOMAIN } from "../transport/zmq-security.js";
import type { PeerEndpoint } from "../transport/zmq-transport.js";
import { controlFrames, decodeControl, PROTOCOL_VERSION, type ControlMsg, type HelloMsg } from "./protocol.js";

/** Options of {@link Coordinator.start}. */
interface CoordinatorOptions {
  /** Address to bind (the first node's own address). */
  bindAddress: string;
  /** Host name ranks use to reach it, for messages. */
  hostLabel: string;
  port: number;
  size: number;
  jobId: string;
  /** The job key (src/env/secret.ts). */
  jobKey: Buffer;
  /** The process's ZAP handler. */
  zap: ZapHandler;
  /** Where refusals are logged. */
  log: (line: string) => void;
  /** How long to wait for every rank's hello. */
  timeoutMs: number;
  /** The coordinator's own machine, to use ipc to ranks on it. */
  hostname: string;
  nodeName: string;
}

/** The rendezvous and failure-detection service. */
export class Coordinator {
  private readonly inbox: Inbox;
  private readonly hellos = new Map<number, HelloMsg>();
  private readonly links = new Map<number, Link>();
  private readonly byes = new Set<number>();
  private tableSent = false;
  private aborted = false;
  private finSent = false;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly keys: JobKeys;
  /** Connections refused at the coordinator's port. */
  readonly refusals: Refusals;
  /** Address ranks connect to. */
  endpoint = "";

  private constructor(private readonly opts: CoordinatorOptions) {
    this.keys = jobKeys(opts.jobKey);
    this.refusals = new Refusals("the coordinator", opts.log);
    const member = this.keys.member.publicKey;
    opts.zap.setPolicy(COORDINATOR_DOMAIN, { refusals: this.refusals, decide: (key) => (key.equals(member) ? "admit" : "refuse") });
    this.inbox = new Inbox(
      0,
      (env, payload) => {
        if (env.kind !== Kind.CONTROL) return;
        const msg = decodeControl(payload);
        if (msg) this.handle(msg);
      },
      { keys: this.keys.coordinatorServer, domain: COORDINATOR_DOMAIN, refusals: this.refusals },
    );
  }

  /** Binds the coordinator port and starts the rendezvous deadline. */
  static async start(opts: CoordinatorOptions): Promise<Coordinator> {
    const c = new Coordinator(opts);
    const ep = `tcp://${opts.bindAddress}:${opts.port}`;
    try {
      c.endpoint = await c.inbox.bind(ep);
    } catch (e) {
      c.inbox.close();
      opts.zap.dropPolicy(COORDINATOR_DOMAIN);
      const code = (e as { code?: string }).code ?? (e as Error).message;
      const taken = /EADDRINUSE|in use/i.test(String(code));
      throw new RendezvousError(
        taken
          ? `coordinator port ${opts.port} on ${opts.hostLabel} (${opts.bindAddress}) is already taken: another job step or program is using it; set ZMPI_COORD_PORT to a free port`
          : `cannot bind the coordinator at ${ep}: ${String(code)}`,
        { op: "rendezvous" },
      );
    }
    c.inbox.start();
    c.timer = setTimeout(() => c.deadline(), opts.timeoutMs);
    return c;
  }

  private sendFrames(rank: number, frames: Buffer[]): void {
    this.links
      .get(rank)
      ?.send(frames)
      .catch(() => {});
  }

  /**
   * Encoded once for all ranks: the table has an entry per rank (~340 bytes), so encoding it per
   * rank cost O(ranks²) on the coordinator's rank while every other rank waits for it (64 ranks:
   * ~10 ms, 128: ~40 ms, measured warm). zeromq sends the same read-only frames on every link.
   */
  private broadcast(msg: ControlMsg, except = -1): void {
    const frames = controlFrames(-1, msg);
    for (const r of this.links.keys()) if (r !== except) this.sendFrames(r, frames);
  }

  private linkTo(h: HelloMsg): Link {
    const sameHost = h.hostname === this.opts.hostname && h.nodeName === this.opts.nodeName;
    const ep = sameHost && h.ipc ? h.ipc : h.tcp;
    return new Link(ep, { keys: this.keys.coordinatorClient, serverKey: h.key }, () => this.rankLost(h.rank));
  }

  private refuse(h: HelloMsg, reason: string): void {
    const l = this.linkTo(h);
    l.expectClose = true;
    l.send(controlFrames(-1, { type: "reject", reason }))
      .finally(() => setTimeout(() => l.close(), 100))
      .catch(() => {});
  }

  private handle(msg: ControlMsg): void {
    switch (msg.type) {
      case "hello":
        return void this.hello(msg);
      case "bye":
        return void this.bye(msg.rank);
      case "fail":
        return void this.abort({ type: "abort", rank: msg.rank, reason: msg.reason, errorName: msg.errorName, ranks: msg.ranks });
      default:
        return;
    }
  }

  private hello(h: HelloMsg): void {
    const { size, jobId } = this.opts;
    if (h.version !== PROTOCOL_VERSION) return void this.refuse(h, `protocol version ${h.version}, coordinator speaks ${PROTOCOL_VERSION}`);
    if (h.job !== jobId) return void this.refuse(h, `job mismatch: rank ${h.rank} says job "${h.job}", the coordinator serves job "${jobId}"`);
    if (h.size !== size) return void this.refuse(h, `size mismatch: rank ${h.rank} believes the world has ${h.size} ranks, the coordinator expects ${size}`);
    if (h.rank < 0 || h.rank >= size) return void this.refuse(h, `rank ${h.rank} is out of range for a world of ${size}`);
    const prev = this.hellos.get(h.rank);
    if (prev) {
      if (prev.pid === h.pid && prev.hostname === h.hostname) return; // a repeated hello
      return void this.refuse(h, `duplicate rank ${h.rank}: already registered by pid ${prev.pid} on ${prev.nodeName} (this is pid ${h.pid} on ${h.nodeName})`);
    }
    if (this.tableSent || this.aborted) return void this.refuse(h, "the job has already started (or aborted) without this rank");
    this.hellos.set(h.rank, h);
    this.links.set(h.rank, this.linkTo(h));
    if (this.hellos.size === size) this.sendTable();
  }

  private sendTable(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const peers: PeerEndpoint[] = [];
    let coordinatorRank = 0;
    for (let r = 0; r < this.opts.size; r++) {
      const h = this.hellos.get(r)!;
      peers.push({
        rank: r,
        tcp: h.tcp,
        ipc: h.ipc,
        nodeName: h.nodeName,
        hostname: h.hostname,
        pid: h.pid,
        key: h.key,
        cma: h.cma ?? null,
        stream: h.stream ?? null,
        streamTcp: h.streamTcp ?? null,
      });
      if (h.pid === process.pid && h.hostname === this.opts.hostname) coordinatorRank = r;
    }
    this.tableSent = true;
    this.broadcast({ type: "table", peers, coordinatorRank });
  }

  private deadline(): void {
    this.timer = null;
    if (this.tableSent) return;
    const missing: number[] = [];
    for (let r = 0; r < this.opts.size; r++) if (!this.hellos.has(r)) missing.push(r);
    const secs = (this.opts.timeoutMs / 1000).toFixed(1);
    this.abort({
      type: "abort",
      rank: -1,
      ranks: missing,
      errorName: "RendezvousError",
      reason: `rank(s) ${formatRanks(missing)} of ${this.opts.size} never said hello to the coordinator at ${this.endpoint} (${this.opts.hostLabel}) within ${secs} s (ZMPI_TIMEOUT)`,
    });
  }

  private rankLost(rank: number): void {
    // After its bye a rank only waits for FIN; if it goes now, nobody is left waiting on it.
    if (this.closed || this.byes.has(rank)) return;
    const h = this.hellos.get(rank);
    if (!h) return;
    const who = `rank ${rank} (pid ${h.pid} on ${h.nodeName})`;
    const sameMachine = h.hostname === this.opts.hostname && h.nodeName === this.opts.nodeName;
    void probePeer(h, sameMachine).then((state) => {
      if (this.closed || this.byes.has(rank)) return;
      this.abort({ type: "abort", rank, ranks: [rank], reason: lossReason(who, state, HEARTBEAT_TIMEOUT_MS) });
    });
  }

  private abort(msg: ControlMsg & { type: "abort" }): void {
    if (this.aborted) return;
    this.aborted = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.broadcast(msg, msg.rank);
  }

  private bye(rank: number): void {
    this.byes.add(rank);
    if (this.byes.size === this.opts.size && !this.finSent) {
      this.finSent = true;
      for (const link of this.links.values()) link.expectClose = true;
      this.broadcast({ type: "fin" });
    }
  }

  /** Closes every socket (zeromq still delivers what is queued, for the linger time). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const l of this.links.values()) {
      l.expectClose = true;
      l.close();
    }
    this.inbox.close();
    this.opts.zap.dropPolicy(COORDINATOR_DOMAIN);
    this.refusals.summarize();
  }
}

/** `[0,1,2,5]` → `"0-2, 5"`. */
function formatRanks(ranks: number[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < ranks.length) {
    let j = i;
    while (j + 1 < ranks.length && ranks[j + 1] === ranks[j]! + 1) j++;
    out.push(i === j ? `${ranks[i]}` : `${ranks[i]}-${ranks[j]}`);
    i = j + 1;
  }
  return out.join(", ");
}
