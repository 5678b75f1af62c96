/**
 * The wire format: a multipart message `[header, payload?]`. The header is a small msgpack map
 * `{comm, src, tag, seq, kind, dtype, count}` (plus an optional `meta` value for collectives);
 * the payload frame is the raw bytes of a typed array, or a msgpack-encoded value. Payload arrays
 * never go through msgpack, so they arrive zero-copy and aligned.
 */
import { Packr } from "msgpackr";
import { DType, elementBytes, isTypedCode } from "./dtype.js";

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
} as const;

/** A message kind code. */
export type KindCode = (typeof Kind)[keyof typeof Kind];

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
  /** Small extra value for collectives (operation signature); absent otherwise. */
  meta?: unknown;
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

const headerPackr = new Packr({ useRecords: false });
/** Packs user values: `moreTypes` keeps typed arrays nested in objects as typed arrays. */
export const valuePackr = new Packr({ useRecords: false, moreTypes: true });

/** Encodes a header. */
export function encodeHeader(env: Envelope): Buffer {
  return headerPackr.pack(env);
}

function isInt(x: unknown, lo: number, hi: number): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= lo && x <= hi;
}

/**
 * Decodes and checks one inbound message. Returns a reason string for anything malformed, so the
 * caller can drop and count it: bytes that are not ours must never reach the job's state.
 */
export function decodeFrames(
  frames: Buffer[],
  worldSize: number,
): { env: Envelope; payload: Buffer | null } | { error: string } {
  if (frames.length < 1 || frames.length > 2) return { error: `expected 1 or 2 frames, got ${frames.length}` };
  const head = frames[0]!;
  if (head.length === 0 || head.length > 4096) return { error: `header of ${head.length} bytes` };
  let raw: unknown;
  try {
    raw = headerPackr.unpack(head);
  } catch {
    return { error: "header is not msgpack" };
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { error: "header is not a map" };
  const h = raw as Record<string, unknown>;
  const maxSrc = worldSize > 0 ? worldSize - 1 : 0x7fffffff;
  if (!isInt(h.comm, 0, 0x7fffffff)) return { error: "bad comm" };
  if (!isInt(h.src, -1, maxSrc)) return { error: `bad src ${String(h.src)}` };
  if (!isInt(h.tag, 0, 0x7fffffff)) return { error: "bad tag" };
  if (!isInt(h.seq, 0, Number.MAX_SAFE_INTEGER)) return { error: "bad seq" };
  if (!isInt(h.kind, 0, 3)) return { error: "bad kind" };
  if (!isInt(h.dtype, 0, DType.NONE)) return { error: "bad dtype" };
  if (!isInt(h.count, 0, Number.MAX_SAFE_INTEGER)) return { error: "bad count" };
  const payload = frames.length === 2 ? frames[1]! : null;
  const dtype = h.dtype;
  if (h.cma !== undefined) {
    // A single-copy message: the bytes stay with the sender until the receipt.
    if (!isInt(h.cma, 1, Number.MAX_SAFE_INTEGER)) return { error: "bad cma address" };
    if (payload !== null) return { error: "payload frame on a cma message" };
    if (!isTypedCode(dtype) || h.ack !== 1) return { error: "cma message that is not an acknowledged typed array" };
  } else if (dtype === DType.NONE) {
    if (payload !== null && payload.length !== 0) return { error: "payload on a dtype-none message" };
  } else if (payload === null) {
    return { error: "missing payload frame" };
  } else if (dtype === DType.MSGPACK) {
    if (payload.length !== h.count) return { error: `msgpack payload of ${payload.length} bytes, header says ${h.count}` };
  } else if (isTypedCode(dtype) && payload.length !== h.count * elementBytes(dtype)) {
    return { error: `payload of ${payload.length} bytes for ${h.count} elements` };
  }
  const env: Envelope = {
    comm: h.comm,
    src: h.src,
    tag: h.tag,
    seq: h.seq,
    kind: h.kind,
    dtype,
    count: h.count,
  };
  if (h.meta !== undefined) env.meta = h.meta;
  if (h.ack === 1) env.ack = 1;
  if (h.cma !== undefined) env.cma = h.cma;
  return { env, payload };
}
