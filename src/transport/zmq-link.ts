/**
 * One outbound connection: a PUSH socket to one peer's inbox, with its own send queue (zeromq.js
 * allows one send in flight per socket) and a watch on the connection so a peer that dies is
 * noticed at once, not at the next deadline. The connection is a CURVE client: it proves our key
 * and admits only a server that proves the key we expect (zmq-security.ts); large payloads go as
 * several frames.
 */
import { Push } from "zeromq";
import { clientOptions, toFrames, type CurveClient } from "./zmq-security.js";

/**
 * A host that vanishes without closing TCP (power loss, a cable) is found by ZMTP heartbeats:
 * libzmq's I/O thread pings every 2 s and drops a connection silent for 10 s, whatever the JS
 * thread is doing, so a long computation is never mistaken for a death. TCP keepalive backs it up.
 */
const HEARTBEAT_IVL_MS = 2000;
export const HEARTBEAT_TIMEOUT_MS = 10000;
const KEEPALIVE_IDLE_S = 10;
const KEEPALIVE_INTERVAL_S = 5;
const KEEPALIVE_COUNT = 3;
/** How long close() keeps trying to deliver what is queued (the last BYE, the last acks). */
const CLOSE_LINGER_MS = 3000;

interface Pending {
  frames: (Buffer | Uint8Array)[];
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Why a link reports its peer gone. */
export type LinkFailure = "disconnected" | "auth";

/** An outbound PUSH connection with a send queue and failure detection. */
export class Link {
  private readonly socket: Push;
  private readonly queue: Pending[] = [];
  private pumping = false;
  private connected = false;
  private closed = false;
  private failed: Error | null = null;
  /** Set when the peer said goodbye: its disconnect is then expected. */
  expectClose = false;

  private drops = 0;

  /**
   * @param dropsAsAuth when set, a server that closes the connection this many times during the
   *   handshake counts as refusing us ("auth"): a CURVE server that cannot decrypt our hello (its
   *   key is not the one we derived, e.g. a different job secret) closes without a word. Only for
   *   servers that never hold a client back (the coordinator admits or refuses at once).
   */
  constructor(
    readonly endpoint: string,
    curve: CurveClient,
    private readonly onLost: (why: LinkFailure) => void,
    dropsAsAuth = 0,
  ) {
    this.socket = new Push({
      ...clientOptions(curve.keys, curve.serverKey),
      sendHighWaterMark: 0,
      linger: CLOSE_LINGER_MS,
      heartbeatInterval: HEARTBEAT_IVL_MS,
      heartbeatTimeout: HEARTBEAT_TIMEOUT_MS,
      tcpKeepalive: 1,
      tcpKeepaliveIdle: KEEPALIVE_IDLE_S,
      tcpKeepaliveInterval: KEEPALIVE_INTERVAL_S,
      tcpKeepaliveCount: KEEPALIVE_COUNT,
      reconnectInterval: 50,
      reconnectMaxInterval: 1000,
    });
    this.socket.events.on("handshake", () => {
      this.connected = true;
    });
    this.socket.events.on("disconnect", () => {
      if (this.connected && !this.closed && !this.expectClose) this.onLost("disconnected");
      if (!this.connected && dropsAsAuth > 0 && ++this.drops === dropsAsAuth && !this.closed) this.onLost("auth");
    });
    this.socket.events.on("handshake:error:auth", () => {
      if (!this.closed) this.onLost("auth");
    });
    this.socket.connect(endpoint);
  }

  /** Queues a multipart message; resolves when zeromq has taken it. */
  send(message: (Buffer | Uint8Array)[]): Promise<void> {
    const frames = toFrames(message);
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new Error(`link to ${this.endpoint} is closed`));
    if (!this.pumping) {
      // Fast path: nothing in flight, hand the message to zeromq now (no queue entry, no extra promise).
      this.pumping = true;
      // zeromq.js accepts any ArrayBufferView and sends frames > 128 B without copying.
      const sent = this.socket.send(frames as Buffer[]);
      sent.then(
        () => this.next(),
        () => this.next(),
      );
      return sent;
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ frames, resolve, reject });
    });
  }

  private next(): void {
    if (this.queue.length === 0) {
      this.pumping = false;
      return;
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0) {
      const item = this.queue.shift()!;
      try {
        await this.socket.send(item.frames as Buffer[]);
        item.resolve();
      } catch (e) {
        item.reject(e as Error);
      }
    }
    this.pumping = false;
  }

  /** Rejects everything queued and refuses new sends. */
  fail(err: Error): void {
    this.failed = err;
    for (const item of this.queue.splice(0)) item.reject(err);
  }

  /** Closes the socket; zeromq keeps delivering what is queued for up to the linger time. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }
}
