/**
 * The listening side of the same-machine stream channel: a Unix socket in the job's private
 * directory. A connection must open with a greeting carrying the job secret (stream-frame.ts),
 * then every message is validated exactly as ZeroMQ's are (frame.ts) and must come from the rank
 * the greeting named; anything else closes the connection and is counted.
 */
import { createServer, type Server, type Socket } from "node:net";
import { unlinkSync } from "node:fs";
import { decodeFrames, Kind } from "./frame.js";
import { FrameParser, readGreeting } from "./stream-frame.js";
import type { InboxHandler } from "./zmq-inbox.js";

/** A bound Unix-socket server feeding the transport's message handler. */
export class StreamInbox {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly secret: Buffer;
  private closed = false;
  /** Messages dropped as malformed (the connection is then closed). */
  malformed = 0;
  /** Connections refused at the greeting. */
  refused = 0;
  /** The last reason something was dropped, for diagnostics. */
  lastMalformed = "";

  private constructor(
    readonly path: string,
    secret: string,
    private readonly worldSize: number,
    private readonly handler: InboxHandler,
  ) {
    this.secret = Buffer.from(secret, "utf8");
    this.server = createServer((s) => this.accept(s));
  }

  /** Listens on `path` (a stale file from an earlier run of the same job step is replaced). */
  static async listen(path: string, secret: string, worldSize: number, handler: InboxHandler): Promise<StreamInbox> {
    const inbox = new StreamInbox(path, secret, worldSize, handler);
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

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => {});
    let from = -1;
    let pending: Buffer | null = null;
    const drop = (why: string, refused: boolean) => {
      if (refused) this.refused++;
      else this.malformed++;
      this.lastMalformed = why;
      socket.destroy();
    };
    const parser = new FrameParser((header, payload) => {
      if (socket.destroyed) return;
      const out = decodeFrames(payload ? [header, payload] : [header], this.worldSize);
      if ("error" in out) return drop(out.error, false);
      if (out.env.src !== from || out.env.kind === Kind.CONTROL) return drop(`message claiming rank ${out.env.src} (kind ${out.env.kind}) on rank ${from}'s connection`, false);
      try {
        this.handler(out.env, out.payload);
      } catch (e) {
        // A handler bug must not take the connection (and every later message) down.
        this.malformed++;
        this.lastMalformed = `handler threw: ${(e as Error).message}`;
      }
    });
    socket.on("data", (chunk: Buffer) => {
      if (from < 0) {
        const buf: Buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
        const g = readGreeting(buf, this.secret, this.worldSize);
        if (g === null) {
          pending = buf;
          if (buf.length > 2048) drop("greeting too long", true);
          return;
        }
        if ("error" in g) return drop(g.error, true);
        from = g.rank;
        pending = null;
        if (g.used === buf.length) return;
        chunk = buf.subarray(g.used);
      }
      const err = parser.push(chunk);
      if (err) drop(err, false);
    });
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
