/**
 * The bound side: one PULL socket per process that every peer pushes into, read by a single loop
 * (zeromq.js allows one receive in flight). Every frame is validated before anything is trusted.
 */
import { Pull } from "zeromq";
import { ZAP_DOMAIN } from "./zap.js";
import { decodeFrames, type Envelope } from "./frame.js";

/** Receives each valid message. */
export type InboxHandler = (env: Envelope, payload: Buffer | null) => void;

/** A bound PULL socket with validation and counters. */
export class Inbox {
  private readonly socket: Pull;
  private closed = false;
  /** Messages dropped as malformed. */
  malformed = 0;
  /** Connections that failed the handshake (wrong secret, not ZMTP). */
  refused = 0;
  /** Messages and bytes received (valid ones). */
  messages = 0;
  bytes = 0;
  /** The last malformed reason, for diagnostics. */
  lastMalformed = "";

  constructor(
    private readonly worldSize: number,
    private readonly handler: InboxHandler,
  ) {
    this.socket = new Pull({ receiveHighWaterMark: 0, linger: 0, plainServer: true, zapDomain: ZAP_DOMAIN });
    const refused = () => {
      this.refused++;
    };
    this.socket.events.on("handshake:error:auth", refused);
    this.socket.events.on("handshake:error:protocol", refused);
    this.socket.events.on("handshake:error:other", refused);
  }

  /** Binds an endpoint (`tcp://addr:*` picks a free port) and returns the resolved address. */
  async bind(endpoint: string): Promise<string> {
    await this.socket.bind(endpoint);
    return this.socket.lastEndpoint ?? endpoint;
  }

  /** Starts the reader loop. */
  start(): void {
    void this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      let frames: Buffer[];
      try {
        frames = await this.socket.receive();
      } catch (e) {
        if (this.closed) return;
        // zeromq.js 6.8 can reject a pending receive() with EAGAIN although the socket is fine
        // (seen here under load: a peer's messages then vanished). Read on.
        if (isTransient(e)) continue;
        this.lastMalformed = `receive failed: ${(e as Error).message}`;
        return;
      }
      const out = decodeFrames(frames, this.worldSize);
      if ("error" in out) {
        this.malformed++;
        this.lastMalformed = out.error;
        continue;
      }
      this.messages++;
      if (out.payload) this.bytes += out.payload.length;
      try {
        this.handler(out.env, out.payload);
      } catch (e) {
        // A handler bug must not kill the reader: every later message would be lost.
        this.malformed++;
        this.lastMalformed = `handler threw: ${(e as Error).message}`;
      }
    }
  }

  /** Closes the socket and ends the loop. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }
}

/** Errors after which the socket still works and the read is simply retried. */
export function isTransient(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === "EAGAIN" || code === "EINTR" || code === "EBUSY";
}
