/**
 * Mutual authentication of a byte stream by challenge-response, for any Node `net.Socket` (a Unix
 * socket between ranks on one machine today; an authenticated TCP path later). Both sides hold a
 * 32-byte key shared only by the two of them; neither the key nor anything replayable ever
 * crosses the wire:
 *
 *     client → server   HELLO  "ZMPA" v1, client identity, client nonce (32 random bytes)
 *     server → client   HELLO  "ZMPA" v1, server identity, server nonce, server proof
 *     client → server   client proof
 *
 * A proof is HMAC-SHA256 under the key over a role label, both identities and both nonces. The
 * server proves itself first, so a client talking to a squatter on the socket path learns that
 * before it says anything more, and gives away only a proof bound to the squatter's own fresh
 * nonce, which no real server will ever ask for. Each side's nonce makes the other side's proof
 * single-use, so a recorded exchange cannot be replayed. The handshake is bounded: fixed-size
 * messages (identities of at most 255 bytes), a deadline, and nothing read past them.
 *
 * After the handshake the stream itself is authenticated by being the same connection: this is
 * for channels an outsider cannot splice into (a Unix socket in a private directory, loopback);
 * it is not encryption.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Socket } from "node:net";

const MAGIC = Buffer.from("ZMPA", "latin1");
const VERSION = 1;
const NONCE = 32;
const PROOF = 32;
/** Longest identity a side may claim, bytes. */
const MAX_IDENTITY = 255;
/** Largest HELLO either side sends. */
const MAX_HELLO = MAGIC.length + 2 + MAX_IDENTITY + NONCE + PROOF;

/** Why a handshake did not complete. */
type HandshakeFailure = "timeout" | "closed" | "protocol" | "unknown-peer" | "bad-proof" | "wrong-peer";

/** A handshake that did not complete: `reason` says how, the message says more. */
export class HandshakeError extends Error {
  constructor(
    message: string,
    readonly reason: HandshakeFailure,
  ) {
    super(message);
    this.name = "HandshakeError";
  }
}

/** What both sides need. */
interface HandshakeOptions {
  /** This side's identity, at most {@link MAX_IDENTITY} bytes of UTF-8 (e.g. `"rank 3"`). */
  me: string;
  /**
   * The key shared with the peer that claims `peer`, or null for a peer this side does not know
   * (the handshake is then refused). May wait, e.g. for the endpoint table, within the deadline.
   */
  keyFor(peer: string): Buffer | null | Promise<Buffer | null>;
  /** Deadline for the whole exchange, ms. */
  deadlineMs: number;
}

/** A completed handshake: who the peer proved to be, and any bytes that came after it. */
interface HandshakeResult {
  peer: string;
  /** Bytes that followed the handshake in the same read (the start of the peer's data). */
  rest: Buffer;
}

function hello(me: string, nonce: Buffer, proof?: Buffer): Buffer {
  const id = Buffer.from(me, "utf8");
  if (id.length === 0 || id.length > MAX_IDENTITY) throw new RangeError(`handshake identity of ${id.length} bytes (1 to ${MAX_IDENTITY})`);
  return Buffer.concat([MAGIC, Buffer.from([VERSION, id.length]), id, nonce, ...(proof ? [proof] : [])]);
}

/** Parses a HELLO at the start of `buf`: null if incomplete, a string for bytes that are not one. */
function readHello(buf: Buffer, withProof: boolean): { id: string; nonce: Buffer; proof: Buffer | null; used: number } | null | string {
  const head = MAGIC.length + 2;
  const n = Math.min(buf.length, MAGIC.length);
  if (!buf.subarray(0, n).equals(MAGIC.subarray(0, n))) return "not a zmpi handshake";
  if (buf.length < head) return null;
  if (buf[MAGIC.length] !== VERSION) return `handshake version ${buf[MAGIC.length]}, this build speaks ${VERSION}`;
  const idLen = buf[MAGIC.length + 1]!;
  if (idLen === 0) return "empty identity";
  const used = head + idLen + NONCE + (withProof ? PROOF : 0);
  if (buf.length < used) return null;
  const id = buf.toString("utf8", head, head + idLen);
  const nonce = buf.subarray(head + idLen, head + idLen + NONCE);
  const proof = withProof ? buf.subarray(head + idLen + NONCE, used) : null;
  return { id, nonce, proof, used };
}

function proofOf(key: Buffer, role: "client" | "server", client: string, server: string, clientNonce: Buffer, serverNonce: Buffer): Buffer {
  const h = createHmac("sha256", key);
  h.update(`zmpi-auth/v1 ${role}`);
  for (const id of [client, server]) {
    const b = Buffer.from(id, "utf8");
    h.update(Buffer.from([b.length]));
    h.update(b);
  }
  h.update(clientNonce);
  h.update(serverNonce);
  return h.digest();
}

function sameProof(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Reads the socket until `step` says it is done, with a deadline. `step` gets everything read so
 * far and returns a result, null to read on, or throws a HandshakeError. On the way out the socket
 * is paused and its listeners are removed: the caller attaches its own and calls `resume()`.
 */
function exchange<T>(socket: Socket, deadlineMs: number, what: string, step: (buf: Buffer) => T | null | Promise<T | null>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    let busy = false;
    let done = false;
    const finish = (err: Error | null, value?: T) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      socket.off("error", onError);
      socket.pause();
      if (err) {
        socket.destroy();
        reject(err);
      } else resolve(value as T);
    };
    const timer = setTimeout(() => finish(new HandshakeError(`${what}: no handshake within ${deadlineMs} ms`, "timeout")), deadlineMs);
    timer.unref();
    const run = async () => {
      if (busy || done) return;
      busy = true;
      try {
        // Bytes that arrive while a step waits (for a key) are looked at by another step after it.
        for (let seen = -1; seen !== buf.length && !done; ) {
          seen = buf.length;
          const out = await step(buf);
          if (out !== null) return finish(null, out);
        }
      } catch (e) {
        finish(e instanceof HandshakeError ? e : new HandshakeError(`${what}: ${(e as Error).message}`, "protocol"));
      } finally {
        busy = false;
      }
    };
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      // A peer that talks past the handshake before it is done is not following it.
      if (buf.length > MAX_HELLO + PROOF + 64 * 1024) return finish(new HandshakeError(`${what}: ${buf.length} bytes before the handshake completed`, "protocol"));
      void run();
    };
    const onClose = () => finish(new HandshakeError(`${what}: the connection closed during the handshake`, "closed"));
    const onError = (e: Error) => finish(new HandshakeError(`${what}: ${e.message}`, "closed"));
    socket.on("data", onData);
    socket.on("close", onClose);
    socket.on("error", onError);
    socket.resume();
  });
}

/**
 * The connecting side: proves `me` to a server that must prove it is `peer`.
 *
 * @example
 * const socket = net.connect({ path });
 * const { rest } = await openHandshake(socket, { me: "rank 0", peer: "rank 1", keyFor: () => key, deadlineMs: 5000 });
 * socket.on("data", onData); // then read on
 * socket.resume();
 */
export function openHandshake(socket: Socket, opts: HandshakeOptions & { peer: string }): Promise<HandshakeResult> {
  const nonce = randomBytes(NONCE);
  socket.write(hello(opts.me, nonce));
  const what = `handshake with ${opts.peer}`;
  let key: Buffer | null = null;
  return exchange(socket, opts.deadlineMs, what, async (buf) => {
    const h = readHello(buf, true);
    if (h === null) return null;
    if (typeof h === "string") throw new HandshakeError(`${what}: ${h}`, "protocol");
    if (h.id !== opts.peer) throw new HandshakeError(`${what}: the other side says it is ${JSON.stringify(h.id)}`, "wrong-peer");
    key ??= await opts.keyFor(h.id);
    if (!key) throw new HandshakeError(`${what}: no key for it`, "unknown-peer");
    if (!sameProof(h.proof!, proofOf(key, "server", opts.me, h.id, nonce, h.nonce))) {
      throw new HandshakeError(`${what}: the other side could not prove it is ${opts.peer} (someone else is listening there)`, "bad-proof");
    }
    socket.write(proofOf(key, "client", opts.me, h.id, nonce, h.nonce));
    return { peer: h.id, rest: buf.subarray(h.used) };
  });
}

/**
 * The listening side: learns who the client claims to be, proves `me` with the key for that
 * claim, and admits the client only once it has proved the claim too.
 */
export function acceptHandshake(socket: Socket, opts: HandshakeOptions): Promise<HandshakeResult> {
  const nonce = randomBytes(NONCE);
  let state: { id: string; theirs: Buffer; key: Buffer; used: number } | null = null;
  return exchange(socket, opts.deadlineMs, "handshake", async (buf) => {
    if (!state) {
      const h = readHello(buf, false);
      if (h === null) return null;
      if (typeof h === "string") throw new HandshakeError(`handshake: ${h}`, "protocol");
      const key = await opts.keyFor(h.id);
      if (!key) throw new HandshakeError(`handshake: unknown peer ${JSON.stringify(h.id)}`, "unknown-peer");
      state = { id: h.id, theirs: Buffer.from(h.nonce), key, used: h.used };
      socket.write(hello(opts.me, nonce, proofOf(key, "server", h.id, opts.me, state.theirs, nonce)));
      // The client says nothing more until it has checked our proof.
      if (buf.length > h.used) throw new HandshakeError(`handshake: ${h.id} sent data before the handshake completed`, "protocol");
      return null;
    }
    if (buf.length < state.used + PROOF) return null;
    const proof = buf.subarray(state.used, state.used + PROOF);
    if (!sameProof(proof, proofOf(state.key, "client", state.id, opts.me, state.theirs, nonce))) {
      throw new HandshakeError(`handshake: ${state.id} could not prove who it is`, "bad-proof");
    }
    return { peer: state.id, rest: buf.subarray(state.used + PROOF) };
  });
}
