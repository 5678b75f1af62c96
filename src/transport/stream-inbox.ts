/**
 * The listening side of the same-machine stream channel: a Unix socket in this process's private
 * directory (private-dir.ts). A connection must first pass the challenge-response handshake
 * (auth-handshake.ts) as some rank of the job, with the key only that rank and this one share;
 * then every message is validated exactly as ZeroMQ's are (frame.ts) and must come from the rank
 * the handshake proved. Anything else closes the connection and is counted.
 *
 * What a connection costs before it has proved itself is bounded: at most
 * {@link MAX_PENDING_HANDSHAKES} of them at a time (more are closed at once), a few hundred bytes
 * each, for at most the handshake deadline.
 */
import { createServer, type Server, type Socket } from "node:net";
import { unlinkSync } from "node:fs";
import { acceptHandshake, HandshakeError } from "./auth-handshake.js";
import { announcedPayload, decodeFrames } from "./frame.js";
import type { Refusals } from "./refusals.js";
import { FrameParser } from "./stream-frame.js";
import type { InboxHandler } from "./zmq-inbox.js";
import { HANDSHAKE_MS } from "./zmq-security.js";

/** Connections still in their handshake, at most; one per peer rank is all a job needs at once. */
const MAX_PENDING_HANDSHAKES = 64;
/**
 * Deadline of a handshake with a peer that may be waiting for the other side's endpoint table, ms:
 * a server's handshakes begun before it had the table, and every client's (it cannot tell).
 */
export const PEER_HANDSHAKE_MS = 60_000;

/** The identity a rank presents in the stream handshake. */
export function streamIdentity(rank: number): string {
  return `rank ${rank}`;
}

/** What a stream inbox needs. */
interface StreamInboxOptions {
  /** This rank. */
  rank: number;
  worldSize: number;
  /** The key shared with `rank`, once known (waits for the endpoint table), or null for no such rank. */
  keyFor(rank: number): Promise<Buffer | null>;
  /** True once the endpoint table is here: until then a peer may have to wait for it. */
  tableKnown(): boolean;
  refusals: Refusals;
  /** Receives each message, with the rank its connection proved. */
  handler: InboxHandler;
}

/** A bound Unix-socket server feeding the transport's message handler. */
export class StreamInbox {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private closed = false;
  private pending = 0;
  /** Messages dropped as malformed (the connection is then closed). */
  malformed = 0;
  /** Connections refused at the handshake. */
  refused = 0;
  /** The last reason something was dropped, for diagnostics. */
  lastMalformed = "";

  private constructor(
    readonly path: string,
    private readonly opts: StreamInboxOptions,
  ) {
    this.server = createServer((s) => this.accept(s));
  }

  /** Listens on `path` (in a directory of this process's own; a stale file there is replaced). */
  static async listen(path: string, opts: StreamInboxOptions): Promise<StreamInbox> {
    const inbox = new StreamInbox(path, opts);
    try {
      unlinkSync(path);
    } catch {
      // none there
    }
    await new Promise<void>((resolve, reject) => {
      inbox.server.once("error", reject);
      inbox.server.listen({ path, readableAll: false, writableAll: false }, () => {
        inbox.server.off("error", reject);
        resolve();
      });
    });
    return inbox;
  }

  private refuse(socket: Socket, why: string): void {
    this.refused++;
    this.lastMalformed = why;
    this.opts.refusals.refuse(`its Unix socket ${this.path}`, why);
    socket.destroy();
  }

  private accept(socket: Socket): void {
    socket.on("error", () => {});
    if (this.closed) return void socket.destroy();
    if (this.pending >= MAX_PENDING_HANDSHAKES) return void this.refuse(socket, `more than ${MAX_PENDING_HANDSHAKES} connections in their handshake`);
    this.pending++;
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    const keyFor = (id: string): Promise<Buffer | null> => {
      const m = /^rank (\d+)$/.exec(id);
      const r = m ? Number(m[1]) : -1;
      if (r < 0 || r >= this.opts.worldSize || r === this.opts.rank) return Promise.resolve(null);
      return this.opts.keyFor(r);
    };
    // A peer that got the table first may connect before this rank has it: give such early
    // connections until the rendezvous could plausibly end; the cap above still bounds them.
    const deadlineMs = this.opts.tableKnown() ? HANDSHAKE_MS : PEER_HANDSHAKE_MS;
    acceptHandshake(socket, { me: streamIdentity(this.opts.rank), keyFor, deadlineMs }).then(
      ({ peer, rest }) => {
        this.pending--;
        this.serve(socket, Number(peer.slice("rank ".length)), rest);
      },
      (e: unknown) => {
        this.pending--;
        this.refuse(socket, e instanceof HandshakeError ? e.message : String(e));
      },
    );
  }

  private serve(socket: Socket, from: number, rest: Buffer): void {
    const drop = (why: string) => {
      this.malformed++;
      this.lastMalformed = why;
      socket.destroy();
    };
    // Before buffering a payload: the header must be from this connection's rank and announce
    // exactly the bytes that follow, so no claim costs more than a real message of that size.
    const check = (header: Buffer, bytes: number): string | null => {
      const a = announcedPayload(header);
      if ("error" in a) return a.error;
      if (a.src !== from) return `message claiming rank ${a.src} on rank ${from}'s connection`;
      if (a.bytes !== bytes && !(a.bytes === -1 && bytes === 0)) return `a ${bytes}-byte payload where the header announces ${a.bytes}`;
      return null;
    };
    const parser = new FrameParser((header, payload) => {
      if (socket.destroyed) return;
      const out = decodeFrames(payload ? [header, payload] : [header], this.opts.worldSize);
      if ("error" in out) return drop(out.error);
      if (out.env.src !== from) return drop(`message claiming rank ${out.env.src} on rank ${from}'s connection`);
      try {
        this.opts.handler(out.env, out.payload);
      } catch (e) {
        // A handler bug must not take the connection (and every later message) down.
        this.malformed++;
        this.lastMalformed = `handler threw: ${(e as Error).message}`;
      }
    }, check);
    const feed = (chunk: Buffer) => {
      const err = parser.push(chunk);
      if (err) drop(err);
    };
    if (rest.length > 0) feed(rest);
    socket.on("data", feed);
    socket.resume();
  }

  /** Stops listening, closes every connection and removes the socket file. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.server.close();
    for (const s of this.sockets) s.destroy();
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
