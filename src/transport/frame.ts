/**
 * The wire format: a multipart message `[header, payload?]`. The header is a fixed little-endian
 * record (below) plus an optional UTF-8 `meta` string (a collective's signature); the payload
 * frame is the raw bytes of a typed array, or a msgpack-encoded value. Payload arrays never go
 * through msgpack, so they arrive zero-copy and aligned.
 *
 * Header layout (bytes): 0 magic 0x5a, 1 version, 2 kind, 3 dtype, 4 flags (1 ack, 2 cma,
 * 4 meta), 5-7 zero, 8 comm i32, 12 src i32, 16 tag i32, 20 seq f64, 28 count f64, then 36 cma
 * address f64 if flagged, then u16 meta length and the meta bytes if flagged. A msgpack map was
 * the first format; encoding and decoding it cost ~20 µs per message here, on every hop.
 */
import { DType, elementBytes, isTypedCode } from "./dtype.js";
import { Packr } from "./msgpack.js";

/** Message kinds. */
export const Kind = {
  /** Point-to-point data. */
  P2P: 0,
  /** Collective data: a separate matching space so it never meets a user's `recv`. */
  COLL: 1,
  /** Receipt of a zero-copy message, so the sender may reuse its buffer. */
  ACK: 2,
  /** Rendezvous and job control (hello, table, abort, bye, fin). */
  CONTROL: 3,
  /**
   * A synchronous send's point-to-point message (its sender waits until a receive has taken it),
   * or, with dtype NONE and no payload, the receipt saying so (count = the message's number; see
   * comm/sync.ts).
   */
  SYNC: 4,
} as const;

/** The decoded header of one message. */
export interface Envelope {
  /** Communicator context id (0 = world). */
  comm: number;
  /** Sender's world rank (-1 for the coordinator service). */
  src: number;
  /** User tag (P2P) or internal tag (COLL). */
  tag: number;
  /** Per (sender, receiver) sequence number, set by the transport. */
  seq: number;
  /** See {@link Kind}. */
  kind: number;
  /** See {@link DType}. */
  dtype: number;
  /** Elements (typed arrays) or bytes (msgpack). */
  count: number;
  /** A collective's signature, e.g. `allreduce(float64[8], SUM, ring)`; absent otherwise. */
  meta?: string;
  /** 1 when the sender handed over its buffer and waits for a receipt ({@link Kind.ACK}). */
  ack?: number;
  /**
   * Address of the payload in the sender's memory, when the receiver (on the same machine) is to
   * copy it out itself (cross-memory attach, see cma.ts). The message then has no payload frame.
   */
  cma?: number;
}

/** Largest tag a user may pass (like MPI_TAG_UB, which must be at least 32767). */
export const MAX_TAG = 0x3fffffff;

const MAGIC = 0x5a;
const VERSION = 1;
const FLAG_ACK = 1;
const FLAG_CMA = 2;
const FLAG_META = 4;
const FIXED = 36;
/** Longest meta string in bytes (a signature is a few dozen). */
const MAX_META = 1024;

/** Packs user values: `moreTypes` keeps typed arrays nested in objects as typed arrays. */
export const valuePackr = new Packr({ useRecords: false, moreTypes: true });

/** Bytes of `env`'s header (throws for a meta string longer than a header carries). */
export function headerBytes(env: Envelope): number {
  return FIXED + (env.cma !== undefined ? 8 : 0) + (env.meta === undefined ? 0 : 2 + metaBytes(env.meta));
}

function metaBytes(meta: string): number {
  const n = Buffer.byteLength(meta);
  if (n > MAX_META) throw new RangeError(`header meta of ${n} bytes (at most ${MAX_META})`);
  return n;
}

/** Encodes a header into a Buffer of its own. */
export function encodeHeader(env: Envelope): Buffer {
  const b = Buffer.allocUnsafe(headerBytes(env));
  encodeHeaderInto(env, b, 0);
  return b;
}

/**
 * Encodes a header into `target` at `offset`, which must have {@link headerBytes} of room (a
 * shared-memory ring's record: shm-channel.ts writes there directly, where a Buffer of its own
 * and a copy of it cost a second allocation and copy per message). Returns the bytes written;
 * throws, writing nothing, for a meta string too long.
 */
export function encodeHeaderInto(env: Envelope, target: Buffer, offset: number): number {
  const metaLen = env.meta === undefined ? -1 : metaBytes(env.meta);
  const hasCma = env.cma !== undefined;
  const b = target;
  b[offset] = MAGIC;
  b[offset + 1] = VERSION;
  b[offset + 2] = env.kind;
  b[offset + 3] = env.dtype;
  b[offset + 4] = (env.ack === 1 ? FLAG_ACK : 0) | (hasCma ? FLAG_CMA : 0) | (metaLen < 0 ? 0 : FLAG_META);
  b[offset + 5] = b[offset + 6] = b[offset + 7] = 0;
  b.writeInt32LE(env.comm, offset + 8);
  b.writeInt32LE(env.src, offset + 12);
  b.writeInt32LE(env.tag, offset + 16);
  b.writeDoubleLE(env.seq, offset + 20);
  b.writeDoubleLE(env.count, offset + 28);
  let at = offset + FIXED;
  if (hasCma) {
    b.writeDoubleLE(env.cma!, at);
    at += 8;
  }
  if (metaLen >= 0) {
    b.writeUInt16LE(metaLen, at);
    b.write(env.meta!, at + 2, metaLen, "utf8");
    at += 2 + metaLen;
  }
  return at - offset;
}

function isInt(x: unknown, lo: number, hi: number): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= lo && x <= hi;
}

/**
 * Decodes and checks one inbound message. Returns a reason string for anything malformed, so the
 * caller can drop and count it: bytes that are not ours must never reach the job's state.
 */
export function decodeFrames(frames: Buffer[], worldSize: number): { env: Envelope; payload: Buffer | null } | { error: string } {
  if (frames.length < 1 || frames.length > 2) return { error: `expected 1 or 2 frames, got ${frames.length}` };
  const head = frames[0]!;
  const payload = frames.length === 2 ? frames[1]! : null;
  const env = decodeHeader(head, 0, head.length, payload === null ? -1 : payload.length, worldSize);
  return "error" in env ? env : { env, payload };
}

/**
 * {@link decodeFrames} for a header at `head[at, at + length)` whose message has a payload of
 * `payloadBytes` (-1: no payload frame): a shared-memory ring's record is read where it lies, with
 * no Buffer view of its own.
 */
export function decodeHeader(head: Buffer, at: number, length: number, payloadBytes: number, worldSize: number): Envelope | { error: string } {
  if (length < FIXED || length > FIXED + 8 + 2 + MAX_META) return { error: `header of ${length} bytes` };
  if (head[at] !== MAGIC) return { error: "not a zmpi header (bad magic byte)" };
  if (head[at + 1] !== VERSION) return { error: `header version ${head[at + 1]}, this build speaks ${VERSION}` };
  const flags = head[at + 4]!;
  if (flags & ~(FLAG_ACK | FLAG_CMA | FLAG_META) || head[at + 5] !== 0 || head[at + 6] !== 0 || head[at + 7] !== 0) return { error: "bad header flags" };
  const kind = head[at + 2]!;
  const dtype = head[at + 3]!;
  const comm = head.readInt32LE(at + 8);
  const src = head.readInt32LE(at + 12);
  const tag = head.readInt32LE(at + 16);
  const seq = head.readDoubleLE(at + 20);
  const count = head.readDoubleLE(at + 28);
  let cma: number | undefined;
  let meta: string | undefined;
  let used = FIXED;
  if (flags & FLAG_CMA) {
    if (length < used + 8) return { error: "header too short for its cma address" };
    cma = head.readDoubleLE(at + used);
    used += 8;
  }
  if (flags & FLAG_META) {
    if (length < used + 2) return { error: "header too short for its meta" };
    const n = head.readUInt16LE(at + used);
    if (length !== used + 2 + n) return { error: "meta length does not match the header" };
    meta = head.toString("utf8", at + used + 2, at + used + 2 + n);
  } else if (length !== used) {
    return { error: "trailing bytes after the header" };
  }
  const maxSrc = worldSize > 0 ? worldSize - 1 : 0x7fffffff;
  if (!isInt(comm, 0, 0x7fffffff)) return { error: "bad comm" };
  if (!isInt(src, -1, maxSrc)) return { error: `bad src ${String(src)}` };
  if (!isInt(tag, 0, 0x7fffffff)) return { error: "bad tag" };
  if (!isInt(seq, 0, Number.MAX_SAFE_INTEGER)) return { error: "bad seq" };
  if (!isInt(kind, 0, Kind.SYNC)) return { error: "bad kind" };
  if (!isInt(dtype, 0, DType.NONE)) return { error: "bad dtype" };
  if (!isInt(count, 0, Number.MAX_SAFE_INTEGER)) return { error: "bad count" };
  const ack = flags & FLAG_ACK ? 1 : undefined;
  if (cma !== undefined) {
    // A single-copy message: the bytes stay with the sender until the receipt.
    if (!isInt(cma, 1, Number.MAX_SAFE_INTEGER)) return { error: "bad cma address" };
    if (payloadBytes >= 0) return { error: "payload frame on a cma message" };
    if (!isTypedCode(dtype) || ack !== 1) return { error: "cma message that is not an acknowledged typed array" };
  } else if (dtype === DType.NONE) {
    if (payloadBytes > 0) return { error: "payload on a dtype-none message" };
  } else if (payloadBytes < 0) {
    return { error: "missing payload frame" };
  } else if (dtype === DType.MSGPACK) {
    if (payloadBytes !== count) return { error: `msgpack payload of ${payloadBytes} bytes, header says ${count}` };
  } else if (isTypedCode(dtype) && payloadBytes !== count * elementBytes(dtype)) {
    return { error: `payload of ${payloadBytes} bytes for ${count} elements` };
  }
  const env: Envelope = { comm, src, tag, seq, kind, dtype, count };
  if (meta !== undefined) env.meta = meta;
  if (ack === 1) env.ack = 1;
  if (cma !== undefined) env.cma = cma;
  return env;
}

/**
 * Largest message payload zmpi delivers, bytes: the largest Buffer of Node 20 (later versions allow
 * larger ones; a receiver must not be made to try).
 */
export const MAX_MESSAGE_BYTES = 2 ** 32;

/**
 * What a header says about its payload, before the payload is read: its sender and how many bytes
 * must follow (-1: no payload frame; for DType.NONE, 0 is allowed too), of the header at
 * `head[at, at + length)`. Lets a stream reader refuse
 * a claim that does not match its own header before buffering a byte of it; the full check is
 * {@link decodeFrames}, once the payload is there. An error for a header that is not even that.
 */
export function announcedPayload(head: Buffer, at = 0, length = head.length): { src: number; bytes: number } | { error: string } {
  if (length < FIXED || head[at] !== MAGIC || head[at + 1] !== VERSION) return { error: "not a zmpi header" };
  const dtype = head[at + 3]!;
  const count = head.readDoubleLE(at + 28);
  const src = head.readInt32LE(at + 12);
  if (!isInt(count, 0, Number.MAX_SAFE_INTEGER)) return { error: "bad count" };
  if (head[at + 4]! & FLAG_CMA || dtype === DType.NONE) return { src, bytes: -1 };
  if (dtype === DType.MSGPACK) return { src, bytes: count };
  if (isTypedCode(dtype)) return { src, bytes: count * elementBytes(dtype) };
  return { error: "bad dtype" };
}
