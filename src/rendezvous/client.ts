/**
 * The rank side of rendezvous, and afterwards the rank's control channel: goodbyes at finalize,
 * failure reports, and the coordinator's aborts (and peers' failure notices).
 *
 * The connection to the coordinator is a CURVE client with keys derived from the job key: the
 * coordinator must prove the derived server key before this rank says anything, so a squatter on
 * the coordinator's port gets a handshake it cannot answer and no hello.
 */
import { RendezvousError } from "../errors.js";
import { jobKeys } from "../transport/keys.js";
import { Link } from "../transport/zmq-link.js";
import type { PeerEndpoint, ZmqTransport } from "../transport/zmq-transport.js";
import { controlFrames, decodeControl, PROTOCOL_VERSION, type AbortMsg, type HelloMsg } from "./protocol.js";

/** Handshakes the coordinator may end before this rank concludes it has a different secret. */
const COORDINATOR_HANDSHAKE_DROPS = 3;

/** What a rank sends in its hello, minus the endpoints the transport knows. */
type HelloFields = Omit<HelloMsg, "type" | "version" | "tcp" | "ipc" | "key">;

/** Options of {@link joinJob}. */
interface JoinOptions {
  /** `tcp://addr:port` of the coordinator. */
  coordinatorEndpoint: string;
  /** Host name of the coordinator, for messages. */
  coordinatorLabel: string;
  /** The job key (src/env/secret.ts). */
  jobKey: Buffer;
  timeoutMs: number;
  hello: HelloFields;
}

/** The rank's side of the control channel after rendezvous. */
export class ControlChannel {
  private finWaiters: Array<() => void> = [];
  private finReceived = false;
  private byeSent = false;
  private abortHandler: (msg: AbortMsg) => void = () => {};
  private pendingAbort: AbortMsg | null = null;
  /** World rank hosting the coordinator. */
  coordinatorRank = 0;

  constructor(
    private readonly link: Link,
    private readonly rank: number,
  ) {}

  /** Installs the handler for the coordinator's aborts (one queued before install is delivered). */
  onAbort(handler: (msg: AbortMsg) => void): void {
    this.abortHandler = handler;
    if (this.pendingAbort) handler(this.pendingAbort);
  }

  /** @internal called by the control dispatcher. */
  deliverAbort(msg: AbortMsg): void {
    this.pendingAbort = msg;
    this.abortHandler(msg);
  }

  /** @internal */
  deliverFin(): void {
    this.finReceived = true;
    for (const w of this.finWaiters.splice(0)) w();
  }

  /** True once this rank has entered finalize. */
  get finalizing(): boolean {
    return this.byeSent;
  }

  /** True once the coordinator said every rank has entered finalize. */
  get finished(): boolean {
    return this.finReceived;
  }

  /** Reports a failure seen here, so the coordinator tells every rank. */
  reportFailure(reason: string, errorName?: string, ranks?: number[]): void {
    this.link.send(controlFrames(this.rank, { type: "fail", rank: this.rank, reason, errorName, ranks })).catch(() => {});
  }

  /** Reports the loss of `culprit` to the coordinator (which may be what is lost: then nothing arrives). */
  reportLoss(culprit: number, reason: string): void {
    this.link.send(controlFrames(this.rank, { type: "fail", rank: culprit, reason, ranks: [culprit] })).catch(() => {});
  }

  /** Says goodbye and resolves when every rank has. */
  async bye(): Promise<void> {
    if (!this.byeSent) {
      this.byeSent = true;
      this.link.expectClose = true;
      await this.link.send(controlFrames(this.rank, { type: "bye", rank: this.rank }));
    }
    if (this.finReceived) return;
    await new Promise<void>((resolve) => this.finWaiters.push(resolve));
  }

  /** Closes the link to the coordinator. */
  close(): void {
    this.link.close();
  }
}

/**
 * Says hello to the coordinator and waits for the endpoint table. The coordinator's answers
 * (table, reject, abort, fin) arrive in this rank's own inbox.
 */
export async function joinJob(transport: ZmqTransport, opts: JoinOptions, onCoordinatorLost: () => void): Promise<{ peers: PeerEndpoint[]; control: ControlChannel }> {
  let settle: { resolve: (p: PeerEndpoint[]) => void; reject: (e: Error) => void } | null = null;
  const table = new Promise<PeerEndpoint[]>((resolve, reject) => (settle = { resolve, reject }));
  const keys = jobKeys(opts.jobKey);
  const link = new Link(
    opts.coordinatorEndpoint,
    { keys: keys.member, serverKey: keys.coordinatorServer.publicZ85 },
    (why) => {
      if (why === "auth") {
        settle?.reject(
          new RendezvousError(
            `rank ${opts.hello.rank}: the coordinator at ${opts.coordinatorEndpoint} refused the connection: this rank's job secret differs from the coordinator's (ZMPI_SECRET, or the per-user secret file), or another program holds the port`,
            { op: "rendezvous", ranks: [opts.hello.rank] },
          ),
        );
        return;
      }
      onCoordinatorLost();
    },
    COORDINATOR_HANDSHAKE_DROPS,
  );
  const control = new ControlChannel(link, opts.hello.rank);
  transport.onControl((env, payload) => {
    const msg = decodeControl(payload);
    if (!msg) return;
    if (env.src >= 0) {
      // From a peer: only a notice that some rank failed, which fails this rank the same way.
      if (msg.type === "fail" && msg.rank >= 0 && msg.rank !== opts.hello.rank) {
        control.deliverAbort({ type: "abort", rank: msg.rank, reason: msg.reason, errorName: msg.errorName, ranks: msg.ranks ?? [msg.rank] });
      }
      return;
    }
    switch (msg.type) {
      case "table":
        control.coordinatorRank = msg.coordinatorRank;
        settle?.resolve(msg.peers);
        return;
      case "reject":
        settle?.reject(
          new RendezvousError(`the coordinator at ${opts.coordinatorEndpoint} refused rank ${opts.hello.rank}: ${msg.reason}`, { op: "rendezvous", ranks: [opts.hello.rank] }),
        );
        return;
      case "abort":
        if (msg.rank === -1 || msg.errorName === "RendezvousError") {
          settle?.reject(new RendezvousError(msg.reason, { op: "rendezvous", ranks: msg.ranks ?? [] }));
        }
        control.deliverAbort(msg);
        return;
      case "fin":
        control.deliverFin();
        return;
      default:
        return;
    }
  });
  const hello: HelloMsg = {
    type: "hello",
    version: PROTOCOL_VERSION,
    ...opts.hello,
    tcp: transport.tcpEndpoint,
    ipc: transport.ipcEndpoint,
    key: transport.keys.publicZ85,
    cma: transport.cmaToken,
    stream: transport.streamPath,
  };
  link.send(controlFrames(opts.hello.rank, hello)).catch(() => {});
  // The coordinator has the same deadline and then names the missing ranks; wait a little longer
  // so its message, not ours, is what the user reads.
  const graceMs = Math.min(5000, Math.max(1000, opts.timeoutMs / 10));
  let timer: NodeJS.Timeout | null = null;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new RendezvousError(
            `rank ${opts.hello.rank}: no endpoint table from the coordinator at ${opts.coordinatorEndpoint} (${opts.coordinatorLabel}) within ${((opts.timeoutMs + graceMs) / 1000).toFixed(1)} s: is task 0 of the first node running, and is the port reachable? (ZMPI_TIMEOUT)`,
            { op: "rendezvous" },
          ),
        ),
      opts.timeoutMs + graceMs,
    );
  });
  try {
    const peers = await Promise.race([table, timeout]);
    return { peers, control };
  } catch (e) {
    link.close();
    throw e;
  } finally {
    if (timer) clearTimeout(timer);
  }
}
