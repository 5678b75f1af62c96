/**
 * Framing for the same-machine stream channel (a Unix socket between two ranks on one machine):
 * the ZeroMQ message `[header, payload?]` becomes `u32 header length, f64 payload length (-1 for
 * none), header, payload`, preceded once per connection by a greeting that names the sending rank
 * and proves it knows the job secret. The header is the same record as on ZeroMQ (frame.ts).
 */
import { timingSafeEqual } from "node:crypto";

const GREETING_MAGIC = 0x53504d5a; // "ZMPS" little-endian
const GREETING_VERSION = 1;
const PREFIX = 12;
/** Longest header accepted (frame.ts allows a little over 1 KiB). */
const MAX_HEADER = 4096;
/** Longest secret a greeting may carry. */
const MAX_SECRET = 1024;

/** The greeting a connecting rank sends first. */
export function encodeGreeting(rank: number, secret: string): Buffer {
  const s = Buffer.from(secret, "utf8");
  const b = Buffer.allocUnsafe(11 + s.length);
  b.writeUInt32LE(GREETING_MAGIC, 0);
  b[4] = GREETING_VERSION;
  b.writeInt32LE(rank, 5);
  b.writeUInt16LE(s.length, 9);
  s.copy(b, 11);
  return b;
}

/**
 * Reads a greeting from the start of `buf`: the rank and how many bytes it took, `null` if more
 * bytes are needed, or an error for bytes that are not a zmpi greeting with the right secret.
 */
export function readGreeting(buf: Buffer, secret: Buffer, worldSize: number): { rank: number; used: number } | null | { error: string } {
  if (buf.length < 11) return buf.length >= 4 && buf.readUInt32LE(0) !== GREETING_MAGIC ? { error: "not a zmpi greeting" } : null;
  if (buf.readUInt32LE(0) !== GREETING_MAGIC) return { error: "not a zmpi greeting" };
  if (buf[4] !== GREETING_VERSION) return { error: `greeting version ${buf[4]}, this build speaks ${GREETING_VERSION}` };
  const rank = buf.readInt32LE(5);
  const n = buf.readUInt16LE(9);
  if (n > MAX_SECRET) return { error: "greeting secret too long" };
  if (rank < 0 || rank >= worldSize) return { error: `greeting from rank ${rank}, outside the world` };
  if (buf.length < 11 + n) return null;
  const theirs = buf.subarray(11, 11 + n);
  if (theirs.length !== secret.length || !timingSafeEqual(theirs, secret)) return { error: "wrong job secret" };
  return { rank, used: 11 + n };
}

/** The bytes that go before a header: its length and the payload's (-1: no payload frame). */
export function framePrefix(header: Buffer, payloadBytes: number): Buffer {
  const b = Buffer.allocUnsafe(PREFIX + header.length);
  b.writeUInt32LE(header.length, 0);
  b.writeDoubleLE(payloadBytes, 4);
  header.copy(b, PREFIX);
  return b;
}

/**
 * Cuts a byte stream back into `[header, payload]` messages. Small messages that arrive whole are
 * sliced out of the chunk without copying; a payload split over chunks is gathered into a buffer
 * of its own (fresh, so any element type is aligned in it).
 */
export class FrameParser {
  private rest: Buffer | null = null;
  private header: Buffer | null = null;
  private payload: Buffer | null = null;
  private filled = 0;

  constructor(private readonly onFrame: (header: Buffer, payload: Buffer | null) => void) {}

  /** Feeds bytes; returns an error for a stream that cannot be ours (the caller drops the connection). */
  push(chunk: Buffer): string | null {
    if (this.payload) {
      const n = Math.min(chunk.length, this.payload.length - this.filled);
      chunk.copy(this.payload, this.filled, 0, n);
      this.filled += n;
      if (this.filled < this.payload.length) return null;
      const h = this.header!;
      const p = this.payload;
      this.header = this.payload = null;
      this.filled = 0;
      this.onFrame(h, p);
      if (n === chunk.length) return null;
      chunk = chunk.subarray(n);
    }
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = null;
    let off = 0;
    while (buf.length - off >= PREFIX) {
      const hLen = buf.readUInt32LE(off);
      const pLen = buf.readDoubleLE(off + 4);
      if (hLen === 0 || hLen > MAX_HEADER) return `frame header of ${hLen} bytes`;
      if (pLen !== -1 && !(Number.isSafeInteger(pLen) && pLen >= 0)) return `frame payload length ${pLen}`;
      const start = off + PREFIX + hLen;
      if (buf.length < start) break;
      const header = buf.subarray(off + PREFIX, start);
      if (pLen === -1) {
        off = start;
        this.onFrame(header, null);
        continue;
      }
      if (buf.length - start >= pLen) {
        off = start + pLen;
        this.onFrame(header, buf.subarray(start, off));
        continue;
      }
      this.header = Buffer.from(header);
      this.payload = Buffer.allocUnsafeSlow(pLen);
      this.filled = buf.copy(this.payload, 0, start);
      return null;
    }
    if (off < buf.length) this.rest = buf.subarray(off);
    return null;
  }
}
