/**
 * The listening side of the stream channel: a Unix socket in this process's private directory
 * (private-dir.ts) for ranks on the same machine, and a TCP port on the node's address for ranks
 * on other nodes (the data path across nodes, see stream-link.ts). A connection must first pass
 * the challenge-response handshake
 * (auth-handshake.ts) as some rank of the job, with the key only that rank and this one share;
 * then every message is validated exactly as ZeroMQ's are (frame.ts) and must come from the rank
 * the handshake proved. Anything else closes the connection and is counted.
 *
 * What a connection costs before it has proved itself is bounded: at most
 * {@link MAX_PENDING_HANDSHAKES} of them at a time (more are closed at once), a few hundred bytes
 * each, for at most the handshake deadline.
 */
import { createServer, type Server, Socket } from "node:net";
import { unlinkSync } from "node:fs";
import { acceptHandshake, HandshakeError } from "./auth-handshake.js";
import { isTypedCode } from "./dtype.js";
import { announcedPayload, decodeFrames, decodeHeader } from "./frame.js";
import type { Refusals } from "./refusals.js";
import { FrameParser } from "./stream-frame.js";
import type { LendHandler } from "./transport.js";
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
  /** Told when an authenticated connection ends in the middle of a message (the sender died mid-transfer). */
  onCut?: (rank: number) => void;
  /** Where an arriving typed payload may be read straight into (see transport.ts LendHandler). */
  lend?: LendHandler;
}

/** `tcp://host:port` → connect options, or null. */
export function parseTcpEndpoint(ep: string): { host: string; port: number } | null {
  const m = /^tcp:\/\/(.+):(\d+)$/.exec(ep);
  return m ? { host: m[1]!.replace(/^\[(.*)\]$/, "$1"), port: Number(m[2]) } : null;
}

/** Bound stream servers (a Unix socket, a TCP port, or both) feeding the transport's message handler. */
export class StreamInbox {
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  /** The TCP connection each rank writes to this one on, once authenticated (for {@link pollFrom}). */
  private readonly byRank = new Map<number, DirectReader>();
  private closed = false;
  private pending = 0;
  /** Messages dropped as malformed (the connection is then closed). */
  malformed = 0;
  /** Connections refused at the handshake. */
  refused = 0;
  /** The last reason something was dropped, for diagnostics. */
  lastMalformed = "";

  /** Path of the Unix socket, or null. */
  path: string | null = null;
  /** `tcp://host:port` of the TCP data port, or null. */
  tcpEndpoint: string | null = null;

  constructor(private readonly opts: StreamInboxOptions) {}

  /** Listens on `path` (in a directory of this process's own; a stale file there is replaced). */
  async listenUnix(path: string): Promise<void> {
    try {
      unlinkSync(path);
    } catch {
      // none there
    }
    await this.serve(`its Unix socket ${path}`, false, { path, readableAll: false, writableAll: false });
    this.path = path;
  }

  /** Listens on a free TCP port of `host` (the node's address, as the ZeroMQ inbox). */
  async listenTcp(host: string): Promise<void> {
    const server = await this.serve(`its TCP data port on ${host}`, true, { host, port: 0 });
    const a = server.address();
    if (!a || typeof a === "string") throw new Error(`no TCP address for the data port on ${host}`);
    this.tcpEndpoint = `tcp://${host.includes(":") ? `[${host}]` : host}:${a.port}`;
  }

  private async serve(where: string, tcp: boolean, how: { path: string; readableAll: boolean; writableAll: boolean } | { host: string; port: number }): Promise<Server> {
    const server = createServer((s) => this.accept(s, where, tcp));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(how, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.servers.push(server);
    return server;
  }

  private refuse(socket: Socket, where: string, why: string): void {
    this.refused++;
    this.lastMalformed = why;
    this.opts.refusals.refuse(where, why);
    socket.destroy();
  }

  private accept(socket: Socket, where: string, tcp: boolean): void {
    socket.on("error", () => {});
    if (this.closed) return void socket.destroy();
    if (this.pending >= MAX_PENDING_HANDSHAKES) return void this.refuse(socket, where, `more than ${MAX_PENDING_HANDSHAKES} connections in their handshake`);
    if (tcp) socket.setNoDelay(true);
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
        this.read(socket, Number(peer.slice("rank ".length)), rest, tcp);
      },
      (e: unknown) => {
        this.pending--;
        this.refuse(socket, where, e instanceof HandshakeError ? e.message : String(e));
      },
    );
  }

  private read(socket: Socket, from: number, rest: Buffer, tcp: boolean): void {
    const drop = (why: string) => {
      this.malformed++;
      this.lastMalformed = why;
      (direct?.socket ?? socket).destroy();
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
    // Over TCP, bytes are read into one reused buffer, and a payload larger than what has come
    // straight into its own memory: one copy (the kernel's) instead of two, and reads as large
    // as the payload instead of 64 KiB each (see directReader).
    const direct = tcp ? directReader(socket) : null;
    const conn = direct ?? socket;
    const lendTo = this.opts.lend;
    // A payload still to come may go straight into the memory of the receive that will take it.
    const lend = (header: Buffer, bytes: number, takeBack: () => Buffer | null): Buffer | null => {
      if (!lendTo || direct?.canRetarget === false) return null;
      const env = decodeHeader(header, 0, header.length, bytes, this.opts.worldSize);
      if ("error" in env || env.cma !== undefined || !isTypedCode(env.dtype)) return null;
      const mem = lendTo(env, bytes, () => {
        if (takeBack()) direct?.retarget();
      });
      return mem && Buffer.from(mem.buffer, mem.byteOffset, mem.byteLength);
    };
    const parser = new FrameParser(
      (header, payload) => {
        if (conn.destroyed) return;
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
      },
      check,
      direct !== null,
      lend,
    );
    const feed = (chunk: Buffer) => {
      const err = parser.push(chunk);
      if (err) drop(err);
    };
    if (rest.length > 0) feed(Buffer.from(rest));
    conn.on("close", () => {
      if (!this.closed && parser.midFrame) this.opts.onCut?.(from);
    });
    if (direct) {
      this.sockets.delete(socket);
      this.sockets.add(direct.socket);
      this.byRank.set(from, direct);
      direct.socket.on("close", () => {
        this.sockets.delete(direct.socket);
        if (this.byRank.get(from) === direct) this.byRank.delete(from);
      });
      direct.start(parser, feed);
      return;
    }
    socket.on("data", feed);
    socket.resume();
  }

  /** True when `rank` writes to this rank over an authenticated TCP connection that {@link pollFrom} can read. */
  pollable(rank: number): boolean {
    return this.byRank.has(rank);
  }

  /**
   * Reads what `rank` has sent over TCP so far, without waiting, and delivers it: a receive that
   * polls for a moment (tcp-poll.ts). Bytes read; 0 when nothing came (or no such connection).
   */
  pollFrom(rank: number, recvNow: (fd: number, into: Uint8Array) => number): number {
    const r = this.byRank.get(rank);
    if (!r) return 0;
    const n = r.pollNow(recvNow);
    if (n < 0) this.byRank.delete(rank);
    return Math.max(n, 0);
  }

  /** Stops listening, closes every connection and removes the socket file. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const server of this.servers) server.close();
    for (const s of this.sockets) s.destroy();
    if (this.path === null) return;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

/** Size of the reused read buffer of a TCP connection (a frame's prefix and header, small messages). */
const READ_BUFFER_BYTES = 64 * 1024;

/** A connection whose reads go where {@link start}'s parser says (see read()). */
interface DirectReader {
  socket: Socket;
  destroyed: boolean;
  on(ev: "close", f: () => void): void;
  start(parser: FrameParser, feed: (chunk: Buffer) => void): void;
  /** The parser's target moved between reads (lent memory was taken back): read there from now on. */
  retarget(): void;
  /** False when this Node cannot change a socket's read buffer between reads: then nothing is lent. */
  canRetarget: boolean;
  /**
   * Reads what has arrived, now, with `recvNow` (tcp-poll.ts) and feeds it to the parser: bytes
   * read, 0 for none (or when the socket is aimed at a payload's memory: libuv reads that), -1
   * when the socket is done (libuv reports how).
   */
  pollNow(recvNow: (fd: number, into: Uint8Array) => number): number;
}

/**
 * Moves an accepted, authenticated TCP connection onto a socket that reads with `onread`: Node
 * offers that only to sockets it creates itself, so the accepted socket's handle is handed to a
 * new one (the accepted socket, paused by the handshake, keeps nothing: its buffered bytes are
 * taken first). Null when the handle cannot be had (then the connection is read as before).
 */
function directReader(accepted: Socket): DirectReader | null {
  const inner = accepted as unknown as { _handle?: object | null };
  if (!inner._handle) return null;
  const early: Buffer[] = [];
  for (let b = accepted.read() as Buffer | null; b !== null; b = accepted.read() as Buffer | null) early.push(b);
  const handle = inner._handle as { useUserBuffer?: (b: Uint8Array) => void };
  const scratch = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  let parser: FrameParser | null = null;
  let feed: ((chunk: Buffer) => void) | null = null;
  // `reading`: where the socket reads now (the callback's argument still names the first buffer
  // after a retarget, so it is tracked here); `target`: where the parser wants the next bytes
  // (given to the socket after each read). They differ only after start() found the parser in the
  // middle of a payload: that read lands in the scratch buffer and is fed to the parser as a chunk.
  let reading: Buffer = scratch;
  let target: Buffer = scratch;
  const socket = new Socket({
    handle: handle as never,
    readable: true,
    writable: true,
    manualStart: true,
    onread: {
      buffer: () => target,
      callback: (n: number) => {
        if (reading === scratch) feed!(scratch.subarray(0, n));
        else parser!.wrote(n);
        reading = target = parser!.pendingTarget() ?? scratch;
        return true;
      },
    },
  } as never);
  inner._handle = null;
  accepted.removeAllListeners("close");
  socket.on("error", () => {});
  return {
    socket,
    get destroyed() {
      return socket.destroyed;
    },
    on: (ev, f) => void socket.on(ev, f),
    start(p, f) {
      parser = p;
      feed = f;
      for (const b of early) f(b);
      target = p.pendingTarget() ?? scratch;
      socket.resume();
      socket.read(0);
    },
    canRetarget: typeof handle.useUserBuffer === "function",
    pollNow(recvNow) {
      const fd = (handle as { fd?: number }).fd;
      if (reading !== scratch || socket.destroyed || parser === null || typeof fd !== "number" || fd < 0) return socket.destroyed ? -1 : 0;
      // Only while libuv reads into the scratch buffer, so where its next read goes stays right: a
      // payload begun here is read straight into its memory, then gathered from libuv's chunks.
      const into = parser.pendingTarget();
      const n = recvNow(fd, into ?? scratch);
      if (n > 0) {
        if (into) parser.wrote(n);
        else feed!(scratch.subarray(0, n));
      }
      return n;
    },
    retarget() {
      // Node keeps the buffer its last read callback returned; this one takes effect now.
      target = parser!.pendingTarget() ?? scratch;
      if (socket.destroyed) return;
      handle.useUserBuffer!(target);
      reading = target;
    },
  };
}
