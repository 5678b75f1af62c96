/**
 * Data types on the wire. A typed array travels as its raw bytes plus a dtype code; anything else
 * travels as msgpack. The code is what lets the receiver hand back the same array type.
 */
import { UsageError } from "../errors.js";

/** Every typed array type zmpi sends as raw bytes. */
export type TypedArray =
  | Float64Array
  | Float32Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | BigInt64Array
  | BigUint64Array;

/** A constructor of one of the {@link TypedArray} types. */
export type TypedArrayConstructor =
  | Float64ArrayConstructor
  | Float32ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Uint8ClampedArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

/** Wire codes. 0 is msgpack; `NONE` marks a message without payload (barrier tokens, acks). */
export const DType = {
  MSGPACK: 0,
  F64: 1,
  F32: 2,
  I32: 3,
  U8: 4,
  I64: 5,
  U64: 6,
  I8: 7,
  I16: 8,
  U16: 9,
  U32: 10,
  U8C: 11,
  BUFFER: 12,
  NONE: 13,
} as const;

/** A wire dtype code. */
type DTypeCode = (typeof DType)[keyof typeof DType];

interface DTypeInfo {
  name: string;
  ctor: TypedArrayConstructor;
  bytes: number;
}

const INFO: Record<number, DTypeInfo> = {
  [DType.F64]: { name: "float64", ctor: Float64Array, bytes: 8 },
  [DType.F32]: { name: "float32", ctor: Float32Array, bytes: 4 },
  [DType.I32]: { name: "int32", ctor: Int32Array, bytes: 4 },
  [DType.U8]: { name: "uint8", ctor: Uint8Array, bytes: 1 },
  [DType.I64]: { name: "int64", ctor: BigInt64Array, bytes: 8 },
  [DType.U64]: { name: "uint64", ctor: BigUint64Array, bytes: 8 },
  [DType.I8]: { name: "int8", ctor: Int8Array, bytes: 1 },
  [DType.I16]: { name: "int16", ctor: Int16Array, bytes: 2 },
  [DType.U16]: { name: "uint16", ctor: Uint16Array, bytes: 2 },
  [DType.U32]: { name: "uint32", ctor: Uint32Array, bytes: 4 },
  [DType.U8C]: { name: "uint8clamped", ctor: Uint8ClampedArray, bytes: 1 },
  [DType.BUFFER]: { name: "Buffer", ctor: Uint8Array, bytes: 1 },
};

/** True for the codes that carry raw typed-array bytes. */
export function isTypedCode(code: number): boolean {
  return code in INFO;
}

/** Bytes per element of a typed dtype code. */
export function elementBytes(code: number): number {
  const info = INFO[code];
  if (!info) throw new UsageError(`dtype ${code} is not a typed-array dtype`);
  return info.bytes;
}

/** Human name of a dtype code, for error messages. */
export function dtypeName(code: number): string {
  if (code === DType.MSGPACK) return "object";
  if (code === DType.NONE) return "none";
  return INFO[code]?.name ?? `dtype#${code}`;
}

/** True if `x` is one of the typed arrays zmpi sends as raw bytes (Buffer included). */
export function isTypedArray(x: unknown): x is TypedArray {
  return ArrayBuffer.isView(x) && !(x instanceof DataView);
}

/** The wire code for a typed array; throws a {@link UsageError} for unsupported views. */
export function dtypeOf(x: TypedArray): DTypeCode {
  if (Buffer.isBuffer(x)) return DType.BUFFER;
  switch (x.constructor) {
    case Float64Array:
      return DType.F64;
    case Float32Array:
      return DType.F32;
    case Int32Array:
      return DType.I32;
    case Uint8Array:
      return DType.U8;
    case BigInt64Array:
      return DType.I64;
    case BigUint64Array:
      return DType.U64;
    case Int8Array:
      return DType.I8;
    case Int16Array:
      return DType.I16;
    case Uint16Array:
      return DType.U16;
    case Uint32Array:
      return DType.U32;
    case Uint8ClampedArray:
      return DType.U8C;
    default:
      throw new UsageError(`unsupported array type ${x.constructor.name}: send a standard typed array, a Buffer or a plain value`);
  }
}

/** Byte view of a typed array without copying. */
export function bytesOf(x: TypedArray): Uint8Array {
  return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
}

/**
 * Wraps received bytes as the sender's array type. Aliases the bytes when they are aligned for the
 * element size (zeromq hands large frames over in their own buffer at offset 0), copies otherwise.
 */
export function viewAs(code: number, bytes: Uint8Array): TypedArray {
  if (code === DType.BUFFER) {
    return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  const info = INFO[code];
  if (!info) throw new UsageError(`dtype ${code} is not a typed-array dtype`);
  const count = bytes.byteLength / info.bytes;
  if (bytes.byteOffset % info.bytes === 0) {
    return new info.ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, count);
  }
  const copy = new info.ctor(count);
  new Uint8Array(copy.buffer).set(bytes);
  return copy;
}

/** The constructor for a typed dtype code (Buffer's code maps to Uint8Array). */
export function ctorOf(code: number): TypedArrayConstructor {
  const info = INFO[code];
  if (!info) throw new UsageError(`dtype ${code} is not a typed-array dtype`);
  return info.ctor;
}

/** A copy in its own ArrayBuffer at offset 0, so any typed view of it is aligned. */
export function privateCopy(bytes: Uint8Array): Buffer {
  const b = Buffer.allocUnsafeSlow(bytes.byteLength);
  b.set(bytes);
  return b;
}
