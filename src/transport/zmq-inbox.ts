/**
 * The bound side: one PULL socket per process that every peer pushes into, read by a single loop
 * (zeromq.js allows one receive in flight). The socket is a CURVE server (zmq-security.ts): the
 * ZAP handler admits clients, libzmq bounds what a stranger can send before that. Every frame is
 * validated before anything is trusted; handshake failures are counted and logged (refusals.ts).
 *
 * Running out of file descriptors (a flood of connections that never authenticate) does not stall
 * the rank silently: it is logged at once, and reported to {@link InboxOptions.onExhausted}, which
 * fails the job with an error that says so, unless the flood clears by itself.
 */
import { Pull } from "zeromq";
import { decodeFrames, MAX_MESSAGE_BYTES, type Envelope } from "./frame.js";
import type { CurveKeyPair } from "./keys.js";
import type { Refusals } from "./refusals.js";
import { HANDSHAKE_MS, joinFrames, serverOptions } from "./zmq-security.js";

/** Receives each valid message. */
export type InboxHandler = (env: Envelope, payload: Buffer | null) => void;

/**
 * How long a listener may be unable to accept (no descriptors left) before the job is failed, ms.
 * Longer than the handshake deadline, so a one-off flood passes (its connections are dropped at
 * the deadline and the descriptors come back) and only a sustained one ends the job: while it
 * lasts, peers cannot reach this rank, and they must not wait silently for their deadline.
 */
const EXHAUSTED_FAIL_MS = HANDSHAKE_MS + 5000;
/** Accept failures further apart than this are separate episodes, ms. */
const EPISODE_GAP_MS = 2000;

/** How an inbox authenticates and reports. */
interface InboxOptions {
  /** This socket's CURVE keypair. */
  keys: CurveKeyPair;
  /** ZAP domain whose policy admits clients. */
  domain: string;
  /** Where handshake failures are counted. */
  refusals: Refusals;
  /** Called once if the socket cannot accept connections for a while (descriptors exhausted). */
  onExhausted?: (why: string) => void;
  /** Says that accepting has started to fail (once per episode). */
  warn?: (line: string) => void;
}

/** A bound PULL socket with validation and counters. */
export class Inbox {
  private readonly socket: Pull;
  private closed = false;
  private exhaustedSince = 0;
  private lastAcceptError = 0;
  private acceptErrors = 0;
  private exhaustedTimer: NodeJS.Timeout | null = null;
  /** Messages dropped as malformed. */
  malformed = 0;
  /** Connections that failed the handshake below ZAP (not ZMTP, not CURVE, wrong server key). */
  refused = 0;
  /** Connections accepted whose handshake has not ended yet. */
  private unfinished = 0;
  /** Connections whose handshake failed with an error, whose disconnect is still to come. */
  private errored = 0;
  /** Messages and bytes received (valid ones). */
  messages = 0;
  bytes = 0;
  /** The last malformed reason, for diagnostics. */
  lastMalformed = "";

  constructor(
    private readonly worldSize: number,
    private readonly handler: InboxHandler,
    private readonly opts: InboxOptions,
  ) {
    this.socket = new Pull({ ...serverOptions(opts.keys, opts.domain), receiveHighWaterMark: 0, linger: 0 });
    const count = (address: string, why: string) => {
      this.refused++;
      opts.refusals.refuse(`a peer of ${address}`, why);
    };
    const ended = () => {
      this.unfinished = Math.max(0, this.unfinished - 1);
      this.errored++; // its disconnect follows
    };
    const refused = (why: string) => (ev: { address: string; error?: Error }) => {
      ended();
      const detail = ev.error?.message ?? "";
      count(ev.address, /timed out/i.test(detail) ? `no handshake within ${HANDSHAKE_MS / 1000} s` : `${why}${detail ? ` (${detail})` : ""}`);
    };
    this.socket.events.on("handshake:error:protocol", refused("not a zmpi CURVE handshake"));
    this.socket.events.on("handshake:error:other", refused("handshake failed"));
    // Authentication refusals are counted by the ZAP handler, which knows the client's address.
    this.socket.events.on("handshake:error:auth", ended);
    // libzmq reports no error for some connections it drops during the handshake (bytes that are
    // not ZMTP at all): a connection that goes before finishing, without a reported error, is
    // counted too, once. (Events name no connection: the count can be off by one when an
    // authenticated peer leaves while a stranger is mid-handshake.)
    this.socket.events.on("accept", () => this.unfinished++);
    this.socket.events.on("handshake", () => (this.unfinished = Math.max(0, this.unfinished - 1)));
    this.socket.events.on("disconnect", (ev) => {
      if (this.errored > 0) return void this.errored--;
      if (this.unfinished === 0) return;
      this.unfinished--;
      count(ev.address, "closed before finishing the handshake (not ZMTP)");
    });
    this.socket.events.on("accept:error", (ev) => this.acceptFailed(ev.error, ev.address));
  }

  private acceptFailed(err: Error & { code?: string }, where: string): void {
    const code = String(err.code ?? err.message);
    if (!/EMFILE|ENFILE|ENOBUFS|ENOMEM/.test(code)) return;
    const now = Date.now();
    this.acceptErrors++;
    if (now - this.lastAcceptError > EPISODE_GAP_MS) {
      this.exhaustedSince = now;
      this.opts.warn?.(
        `cannot accept connections on ${where}: ${code} (no file descriptors left: a flood of connections that do not authenticate?). Each is dropped ${HANDSHAKE_MS / 1000} s after it opened; if this lasts ${EXHAUSTED_FAIL_MS / 1000} s the job fails`,
      );
    }
    this.lastAcceptError = now;
    if (this.exhaustedTimer || !this.opts.onExhausted) return;
    const check = () => {
      this.exhaustedTimer = null;
      if (this.closed) return;
      const t = Date.now();
      if (t - this.lastAcceptError > EPISODE_GAP_MS) return; // it passed
      if (t - this.exhaustedSince >= EXHAUSTED_FAIL_MS) {
        this.opts.onExhausted?.(
          `could not accept connections on ${where} for ${((t - this.exhaustedSince) / 1000).toFixed(1)} s: ${code}, no file descriptors left (${this.acceptErrors} failed accepts; ${this.opts.refusals.total} connections refused so far): a flood of connections that do not authenticate`,
        );
        return;
      }
      this.exhaustedTimer = setTimeout(check, 1000);
      this.exhaustedTimer.unref();
    };
    this.exhaustedTimer = setTimeout(check, 1000);
    this.exhaustedTimer.unref();
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
      const joined = joinFrames(frames, MAX_MESSAGE_BYTES);
      const out = joined ? decodeFrames(joined, this.worldSize) : { error: `a message of ${frames.length} frames that zmpi did not cut` };
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
    if (this.exhaustedTimer) clearTimeout(this.exhaustedTimer);
    this.socket.close();
  }
}

/** Errors after which the socket still works and the read is simply retried. */
export function isTransient(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === "EAGAIN" || code === "EINTR" || code === "EBUSY";
}
