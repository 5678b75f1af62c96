/**
 * Framing for the same-machine stream channel (a Unix socket between two ranks on one machine),
 * after its handshake (auth-handshake.ts): the ZeroMQ message `[header, payload?]` becomes
 * `u32 header length, f64 payload length (-1 for none), header, payload`. The header is the same
 * record as on ZeroMQ (frame.ts). Lengths are checked before anything is allocated for them, and
 * an allocation that fails ends the connection, not the process.
 */
import { MAX_MESSAGE_BYTES } from "./frame.js";

const PREFIX = 12;
/** Longest header accepted (frame.ts allows a little over 1 KiB). */
const MAX_HEADER = 4096;
/** Largest payload accepted. */
export const MAX_STREAM_PAYLOAD = MAX_MESSAGE_BYTES;

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
  /** Set while {@link payload} is memory lent by the receive that will take the message. */
  private lent = false;

  /**
   * @param onFrame receives each message
   * @param check looks at a header and its payload length before anything is buffered for it: an
   *   error string ends the stream (a claim its own header does not back, a sender it cannot be)
   */
  /**
   * @param reused the chunks given to {@link push} are views of one buffer that the next read
   *   overwrites: whatever outlives the call (a payload, a partial frame) is copied first
   */
  /**
   * @param lend offered a header whose payload has not all come: memory to read the rest into
   *   (exactly that long; the receive's own array, see transport.ts LendHandler), or null for a
   *   buffer of the parser's own. `takeBack` moves the rest of that payload off it.
   */
  constructor(
    private readonly onFrame: (header: Buffer, payload: Buffer | null) => void,
    private readonly check: (header: Buffer, payloadBytes: number) => string | null = () => null,
    private readonly reused = false,
    private readonly lend: (header: Buffer, payloadBytes: number, takeBack: () => Buffer | null) => Buffer | null = () => null,
  ) {}

  /**
   * Moves the payload being read off lent memory `lent` (if it still is there): what has come is
   * copied into a buffer of the parser's own, where the rest goes. Returns that buffer, or null
   * when there was nothing to move (the message is done, or was not on `lent`).
   */
  takeBack(lent: Buffer): Buffer | null {
    if (!this.lent || this.payload !== lent) return null;
    const own = Buffer.allocUnsafeSlow(lent.length);
    lent.copy(own, 0, 0, this.filled);
    this.payload = own;
    this.lent = false;
    return own;
  }

  /** Where the next bytes should be read to: the rest of the payload being gathered, or null (anywhere). */
  pendingTarget(): Buffer | null {
    return this.payload ? this.payload.subarray(this.filled) : null;
  }

  /** `n` bytes were read straight into {@link pendingTarget}. */
  wrote(n: number): void {
    this.filled += n;
    if (this.filled < this.payload!.length) return;
    const h = this.header!;
    const p = this.payload!;
    this.header = this.payload = null;
    this.filled = 0;
    this.lent = false;
    this.onFrame(h, p);
  }

  /** True while a message has begun but not ended. */
  get midFrame(): boolean {
    return this.payload !== null || this.rest !== null;
  }

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
      this.lent = false;
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
      if (pLen !== -1 && !(Number.isSafeInteger(pLen) && pLen >= 0 && pLen <= MAX_STREAM_PAYLOAD)) return `frame payload length ${pLen} (at most ${MAX_STREAM_PAYLOAD})`;
      const start = off + PREFIX + hLen;
      if (buf.length < start) break;
      const header = buf.subarray(off + PREFIX, start);
      const bad = this.check(header, pLen);
      if (bad) return bad;
      if (pLen === -1) {
        off = start;
        this.onFrame(header, null);
        continue;
      }
      if (buf.length - start >= pLen) {
        off = start + pLen;
        const p = buf.subarray(start, off);
        this.onFrame(header, this.reused ? Buffer.from(p) : p);
        continue;
      }
      this.header = Buffer.from(header);
      const lent = this.lend(this.header, pLen, () => this.takeBack(lent!));
      if (lent && lent.length === pLen) {
        this.payload = lent;
        this.lent = true;
      } else {
        try {
          this.payload = Buffer.allocUnsafeSlow(pLen);
        } catch (e) {
          return `cannot allocate a ${pLen}-byte payload: ${(e as Error).message}`;
        }
      }
      this.filled = buf.copy(this.payload, 0, start);
      return null;
    }
    if (off < buf.length) this.rest = this.reused ? Buffer.from(buf.subarray(off)) : buf.subarray(off);
    return null;
  }
}
