/**
 * Turning user data into a payload and back. Typed arrays go as raw bytes: small ones are copied
 * (so the caller may reuse its array at once), large ones are handed to zeromq as they are and the
 * send completes when the receiver acknowledges them. Everything else is msgpack (values.ts says
 * exactly what comes back).
 */
import { UsageError } from "../errors.js";
import { bytesOf, ctorOf, DType, dtypeName, dtypeOf, isTypedArray, isTypedCode, privateCopy, viewAs, type TypedArray } from "../transport/dtype.js";
import { discardPayload, payloadOf, readPayloadInto, type Incoming } from "./matching.js";
import { packValue, unpackValue } from "./values.js";

/** A payload ready for the transport. */
export interface Encoded {
  dtype: number;
  count: number;
  bytes: Uint8Array | null;
  /** True when `bytes` aliases the caller's memory (the send must wait for the receipt). */
  zeroCopy: boolean;
}

function rejectUnsupported(data: unknown): void {
  const t = typeof data;
  if (t === "function" || t === "symbol") throw new UsageError(`cannot send a ${t}: send a typed array, a Buffer or a plain value`);
  if (data instanceof DataView) throw new UsageError("cannot send a DataView: send a typed array view of its buffer instead");
  if (data instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && data instanceof SharedArrayBuffer)) {
    throw new UsageError(`cannot send a bare ${data.constructor.name}: wrap it in a typed array (e.g. new Uint8Array(buf))`);
  }
  if (data instanceof Promise) throw new UsageError("cannot send a Promise: await it first");
}

/** Throws the {@link UsageError} {@link encodeData} would for a value that can never be sent (a send to PROC_NULL checks no more). */
export function checkSendable(data: unknown): void {
  if (!isTypedArray(data)) rejectUnsupported(data);
}

/** Encodes user data for sending. Throws {@link UsageError} for unsupported values. */
export function encodeData(data: unknown, eagerLimit: number): Encoded {
  if (isTypedArray(data)) {
    const dtype = dtypeOf(data);
    const bytes = bytesOf(data);
    if (bytes.byteLength > eagerLimit) return { dtype, count: data.length, bytes, zeroCopy: true };
    return { dtype, count: data.length, bytes: privateCopy(bytes), zeroCopy: false };
  }
  rejectUnsupported(data);
  let bytes: Buffer;
  try {
    bytes = packValue(data);
  } catch (e) {
    throw new UsageError(`cannot encode value for sending: ${(e as Error).message}`);
  }
  return { dtype: DType.MSGPACK, count: bytes.length, bytes, zeroCopy: false };
}

/**
 * Turns a received message into the value the user gets: the sender's array type (aliasing the
 * received bytes), the decoded value, or the caller's `out` array filled.
 */
export function decodeData(m: Incoming, out?: TypedArray): unknown {
  if (m.dtype === DType.MSGPACK) {
    if (out) throw new UsageError(`recv with an out array, but the message holds a plain value (msgpack), not an array`);
    return unpackValue(m.payload!);
  }
  if (m.dtype === DType.NONE) return undefined;
  if (!isTypedCode(m.dtype)) throw new UsageError(`unknown dtype ${m.dtype}`);
  if (!out) return viewAs(m.dtype, payloadOf(m) ?? Buffer.alloc(0));
  const want = ctorOf(m.dtype);
  const outCode = dtypeOf(out);
  if (outCode !== m.dtype && !(outCode === DType.BUFFER && m.dtype === DType.U8) && !(outCode === DType.U8 && m.dtype === DType.BUFFER)) {
    discardPayload(m);
    throw new UsageError(`recv out array is ${dtypeName(outCode)} but the message holds ${dtypeName(m.dtype)} (${want.name})`);
  }
  if (out.length < m.count) {
    discardPayload(m);
    throw new UsageError(`recv out array has ${out.length} elements but the message holds ${m.count}`);
  }
  const filled = out.length === m.count ? out : out.subarray(0, m.count);
  readPayloadInto(m, bytesOf(filled));
  return filled;
}

/**
 * Receives a typed array into `dest` when that saves a copy (the bytes were still in the sender),
 * else returns a view of the received bytes: the caller compares the result with `dest` and copies
 * only if they differ. For algorithm steps that may keep either.
 */
export function decodeToward(m: Incoming, dest: TypedArray): TypedArray {
  if (m.remote && isTypedCode(m.dtype) && m.count === dest.length && ctorOf(m.dtype) === dest.constructor) {
    readPayloadInto(m, bytesOf(dest));
    return dest;
  }
  return decodeData(m) as TypedArray;
}
