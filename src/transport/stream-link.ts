/**
 * One outbound stream connection to a rank: over a Unix socket to a rank on the same machine, over
 * TCP to a rank on another node. Written from the main thread. ZeroMQ hands every message to its I/O thread and the receiver's I/O thread hands it on,
 * two thread wake-ups per hop; a plain socket has none, which halves small-message latency here
 * (measured between two processes: 48 µs half round trip against 78 µs for bare zeromq.js ipc).
 *
 * The connection first passes the challenge-response handshake (auth-handshake.ts): the peer must
 * prove it is the rank we mean before anything is written, and we prove who we are. Messages sent
 * meanwhile wait in order. If the socket cannot be reached at all (no file, nothing listening, the
 * peer closed it during the handshake, or no answer in time), those messages and all later ones go
 * to the fallback (the ZeroMQ link) instead, in order. A peer that answers but cannot prove who it
 * is is not a peer: that is reported as an authentication failure, never fallen back from.
 *
 * Across nodes the same holds over TCP (Nagle off), and it is the data path: ZeroMQ with CURVE
 * costs two I/O-thread hops and a per-frame encryption on each side (measured on loopback, two
 * pretend nodes: 114–122 µs half round trip at 8 B, 838–992 MB/s at 16 MiB, against 29 µs and
 * 1.3–1.5 GB/s for bare Node TCP). The TCP stream is authenticated by the handshake but not
 * encrypted, as MPI's TCP transport is not: `ZMPI_TCP_LINK=0` keeps every byte across nodes on
 * CURVE (README, Security).
 */
import { connect, type NetConnectOpts, type Socket } from "node:net";
import { type HandshakeError, openHandshake } from "./auth-handshake.js";
import { framePrefix } from "./stream-frame.js";
import { PEER_HANDSHAKE_MS, streamIdentity } from "./stream-inbox.js";
import type { LinkFailure } from "./zmq-link.js";

/** What the transport needs from a link to a peer (the ZeroMQ {@link Link} has the same shape). */
export interface PeerLink {
  send(frames: (Buffer | Uint8Array)[]): Promise<void>;
  fail(err: Error): void;
  close(): void;
  expectClose: boolean;
}

/** How long a TCP connect may take before the link falls back to ZeroMQ (a filtered port never answers), ms. */
const TCP_CONNECT_MS = 5000;
/** Idle time before TCP keepalive probes a silent peer across nodes, ms (ZeroMQ's heartbeats do not watch this connection). */
const TCP_KEEPALIVE_MS = 10_000;

/** Where a stream link connects: a Unix socket path, or a TCP host and port. */
export type StreamTarget = { path: string } | { host: string; port: number };

interface Queued {
  frames: (Buffer | Uint8Array)[];
  resolve: () => void;
  reject: (e: Error) => void;
}

/** An outbound Unix-socket connection to one peer's stream inbox. */
export class StreamLink implements PeerLink {
  private readonly socket: Socket;
  private ready = false;
  private closed = false;
  private failed: Error | null = null;
  private fallback: PeerLink | null = null;
  /** Messages sent before the handshake completed: written after it, or handed to the fallback. */
  private early: Queued[] = [];
  /** Set when the peer said goodbye: its disconnect is then expected. */
  expectClose = false;
  /** Why the handshake failed, when the peer could not prove who it is. */
  authError = "";

  /** What the link connects to, for messages. */
  readonly path: string;

  constructor(
    target: StreamTarget,
    rank: number,
    peer: number,
    key: Buffer,
    private readonly onLost: (why: LinkFailure) => void,
    private readonly makeFallback: () => PeerLink,
  ) {
    const tcp = !("path" in target);
    this.path = "path" in target ? target.path : `tcp://${target.host}:${target.port}`;
    this.socket = connect(target as NetConnectOpts);
    if (tcp) {
      this.socket.setNoDelay(true);
      this.socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
      // A port that drops packets never refuses: give up on it and use ZeroMQ.
      this.socket.setTimeout(TCP_CONNECT_MS, () => this.socket.destroy());
    }
    this.socket.on("error", () => {
      // Before the handshake: the close that follows falls back. After: 'close' reports it.
    });
    this.socket.once("connect", () => {
      if (tcp) this.socket.setTimeout(0);
      openHandshake(this.socket, { me: streamIdentity(rank), peer: streamIdentity(peer), keyFor: () => key, deadlineMs: PEER_HANDSHAKE_MS }).then(
        () => this.up(),
        (e: unknown) => this.handshakeFailed(e as HandshakeError),
      );
    });
    this.socket.on("close", () => {
      if (!this.ready) {
        if (!this.fallback && !this.authError && (!this.closed || this.early.length > 0)) this.useFallback();
        return;
      }
      if (!this.closed && !this.expectClose) this.onLost("disconnected");
    });
  }

  /** True once the peer has proved it is the rank we mean and messages go this way. */
  get authenticated(): boolean {
    return this.ready && !this.fallback;
  }

  private up(): void {
    this.ready = true;
    this.socket.on("data", () => {}); // the peer never writes after the handshake; keep reading EOF
    this.socket.resume();
    for (const q of this.early.splice(0)) {
      this.write(q.frames);
      q.resolve();
    }
    if (this.closed) this.socket.end();
  }

  private handshakeFailed(e: HandshakeError): void {
    if (this.fallback) return;
    if (e.reason === "timeout" || e.reason === "closed") {
      if (!this.closed || this.early.length > 0) this.useFallback();
      return;
    }
    this.authError = e.message;
    const err = new Error(`${this.path}: ${e.message}`);
    for (const q of this.early.splice(0)) q.reject(err);
    this.onLost("auth");
  }

  private useFallback(): void {
    const fb = this.makeFallback();
    this.fallback = fb;
    if (this.expectClose) fb.expectClose = true;
    for (const q of this.early.splice(0)) fb.send(q.frames).then(q.resolve, q.reject);
    if (this.closed) fb.close();
  }

  private write(frames: (Buffer | Uint8Array)[], written?: (err?: Error | null) => void): void {
    const header = frames[0] as Buffer;
    const payload = frames.length > 1 ? frames[1]! : null;
    const prefix = framePrefix(header, payload ? payload.byteLength : -1);
    if (payload && payload.byteLength > 0) {
      // One writev for both parts; the payload is not copied (the socket keeps it until written).
      this.socket.cork();
      this.socket.write(prefix);
      this.socket.write(payload, written);
      this.socket.uncork();
    } else {
      this.socket.write(prefix, written);
    }
  }

  /**
   * Writes a message on the authenticated connection and resolves once the kernel has all of it:
   * the caller's memory is then free to reuse, with no receipt from the peer (a stream delivers
   * what it accepted, or the connection ends and the peer is reported lost).
   */
  sendWritten(frames: (Buffer | Uint8Array)[]): Promise<void> {
    if (!this.authenticated || this.failed || this.closed) return Promise.reject(new Error(`link to ${this.path} is not open for writing`));
    return new Promise<void>((resolve, reject) => this.write(frames, (e) => (e ? reject(e) : resolve())));
  }

  /** Writes a message; resolves once it is queued on the socket (sent before the handshake: once it is done). */
  send(frames: (Buffer | Uint8Array)[]): Promise<void> {
    if (this.fallback) return this.fallback.send(frames);
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new Error(`link to ${this.path} is closed`));
    if (this.authError) return Promise.reject(new Error(`${this.path}: ${this.authError}`));
    if (this.ready) {
      this.write(frames);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => this.early.push({ frames, resolve, reject }));
  }

  /** Rejects what waits for the handshake and refuses new sends. */
  fail(err: Error): void {
    this.failed = err;
    this.fallback?.fail(err);
    for (const q of this.early.splice(0)) q.reject(err);
  }

  /** Ends the connection after what is written has gone out. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fallback?.close();
    // Messages still waiting for the handshake go out when it completes (or to the fallback).
    if (this.ready || this.early.length === 0) this.socket.end();
    // A peer that is gone or stuck must not keep this process alive.
    setTimeout(() => this.socket.destroy(), 3000).unref();
  }
}
