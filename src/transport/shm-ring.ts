/**
 * One single-producer/single-consumer ring of variable-length records in shared memory: the data
 * path of the same-node channel (shm-channel.ts). One rank writes, one reads; neither ever waits
 * for the other, and no lock exists. This is the shape of Open MPI's vader and MPICH's POSIX
 * shared-memory queues, reduced to what a message of a few KiB needs.
 *
 * Layout at `offset` (cache-line separated, so the two sides never write the same line):
 *
 *   +0    tail  u32  bytes ever published by the writer (mod 2^32)
 *   +64   head  u32  bytes ever consumed by the reader (mod 2^32)
 *   +68   mark  u32  a number the reader publishes for the writer (the channel: the next message
 *                    number it will deliver from the writer, mod 2^32)
 *   +128  data  `capacity` bytes (a power of two)
 *
 * A record is an 8-byte record header — u32 body length, u16 length of the message header within
 * the body, u16 stamp (the record's number mod 2^16) — then the body (message header, then
 * payload), padded to 8 bytes. A record never wraps: when it does not fit before the end, the
 * writer leaves a wrap marker (body length 0xffffffff) and starts again at 0.
 *
 * The writer reserves a record, fills it (the channel encodes the message header straight into
 * it) and publishes it last, with one sequentially consistent store of `tail`; the reader loads
 * `tail` the same way before it reads. So a writer that dies in the middle of a record leaves
 * nothing the reader will ever see. A record that is nonetheless wrong — a length that runs past
 * what was published, a stamp out of sequence (memory scribbled on by a broken or hostile peer) —
 * breaks the ring for good: the reader reports it and never reads on.
 */

/** Bytes of the control block in front of a ring's data. */
export const RING_CONTROL_BYTES = 128;
/** Bytes of a record's own header. */
const RECORD_HEADER = 8;
/** Body length that marks "skip to the start of the data". */
const WRAP = 0xffffffff;
/** Smallest message header a record may carry (frame.ts's fixed part). */
const MIN_MESSAGE_HEADER = 36;

const TAIL = 0;
const HEAD = 16; // in u32 words: byte 64
const MARK = 17; // byte 68, on the reader's line

/** Bytes a ring of `capacity` data bytes takes, control block included. */
export function ringBytes(capacity: number): number {
  return RING_CONTROL_BYTES + capacity;
}

/** The largest body (message header + payload) a ring of `capacity` carries: an eighth of it, so several are in flight. */
export function maxRecordBody(capacity: number): number {
  return capacity / 8 - RECORD_HEADER;
}

function checkGeometry(buffer: ArrayBufferLike, offset: number, capacity: number): void {
  if (!Number.isInteger(capacity) || capacity < 1024 || (capacity & (capacity - 1)) !== 0 || capacity > 2 ** 30) {
    throw new RangeError(`ring capacity ${capacity}: must be a power of two from 1024 to 2^30`);
  }
  if (offset % 64 !== 0 || offset < 0 || offset + ringBytes(capacity) > buffer.byteLength) {
    throw new RangeError(`ring at ${offset} of ${ringBytes(capacity)} bytes does not fit a ${buffer.byteLength}-byte segment on 64-byte lines`);
  }
}

function pad8(n: number): number {
  return (n + 7) & ~7;
}

/** The writing end. */
export class RingWriter {
  readonly #control: Int32Array;
  readonly #words: DataView;
  readonly #mask: number;
  #tail: number;
  /** `tail` once the reserved record is published; -1: none reserved. */
  #pending = -1;
  #count = 0;
  /** The data area: a reserved record's body is filled here (see {@link reserve}). */
  readonly data: Buffer;
  /** Largest body one record may carry. */
  readonly maxBody: number;

  constructor(
    buffer: ArrayBufferLike,
    offset: number,
    readonly capacity: number,
  ) {
    checkGeometry(buffer, offset, capacity);
    this.#control = new Int32Array(buffer, offset, RING_CONTROL_BYTES / 4);
    this.data = Buffer.from(buffer, offset + RING_CONTROL_BYTES, capacity);
    this.#words = new DataView(buffer, offset + RING_CONTROL_BYTES, capacity);
    this.#mask = capacity - 1;
    this.#tail = Atomics.load(this.#control, TAIL) >>> 0;
    this.maxBody = maxRecordBody(capacity);
  }

  /**
   * Reserves the next record, for a body of `body` bytes whose first `header` are the message
   * header, and writes its record header. Returns where in {@link data} the caller fills the body
   * before {@link publish}, or -1, reserving nothing, when the ring has no room now (the reader is
   * behind). Until published the record is past `tail`: a writer that dies filling it, or reserves
   * again instead, leaves nothing the reader will ever see.
   */
  reserve(header: number, body: number): number {
    if (body > this.maxBody) throw new RangeError(`a record of ${body} bytes is larger than the ring carries (${this.maxBody})`);
    const need = RECORD_HEADER + pad8(body);
    const head = Atomics.load(this.#control, HEAD) >>> 0;
    let tail = this.#tail;
    const used = (tail - head) >>> 0;
    let pos = tail & this.#mask;
    const before = this.capacity - pos;
    if (need > before) {
      if (used + before + need > this.capacity) return -1;
      this.#words.setUint32(pos, WRAP, true);
      tail = (tail + before) >>> 0;
      pos = 0;
    } else if (used + need > this.capacity) return -1;
    this.#words.setUint32(pos, body, true);
    this.#words.setUint16(pos + 4, header, true);
    this.#words.setUint16(pos + 6, this.#count & 0xffff, true);
    this.#pending = (tail + need) >>> 0;
    return pos + RECORD_HEADER;
  }

  /** Publishes the record {@link reserve} returned, filled: one sequentially consistent store of `tail`. */
  publish(): void {
    if (this.#pending < 0) throw new Error("no reserved record to publish");
    this.#tail = this.#pending;
    this.#pending = -1;
    this.#count++;
    Atomics.store(this.#control, TAIL, this.#tail | 0);
  }

  /**
   * Appends one record made of a message header and an optional payload, and publishes it.
   * Returns false, writing nothing, when the ring has no room now (the reader is behind).
   * `corrupt`, for fault tests only, writes half the record and never publishes it.
   */
  tryWrite(header: Uint8Array, payload: Uint8Array | null, corrupt = false): boolean {
    const h = header.byteLength;
    const at = this.reserve(h, h + (payload ? payload.byteLength : 0));
    if (at < 0) return false;
    this.data.set(header, at);
    if (corrupt) return true; // dies here: half a record, never published
    if (payload) this.data.set(payload, at + h);
    this.publish();
    return true;
  }

  /** The reader's mark (see the layout). */
  mark(): number {
    return Atomics.load(this.#control, MARK) >>> 0;
  }
}

/** Why a ring was found broken. */
export type RingFault = string;

/** The reading end. */
export class RingReader {
  readonly #control: Int32Array;
  readonly #words: DataView;
  /** The data area, one view for every record (see {@link drain}). */
  readonly #data: Buffer;
  readonly #mask: number;
  #head: number;
  #count = 0;
  /** Set once a wrong record was found: nothing is read after it. */
  fault: RingFault | null = null;

  constructor(
    buffer: ArrayBufferLike,
    offset: number,
    readonly capacity: number,
  ) {
    checkGeometry(buffer, offset, capacity);
    this.#control = new Int32Array(buffer, offset, RING_CONTROL_BYTES / 4);
    this.#words = new DataView(buffer, offset + RING_CONTROL_BYTES, capacity);
    this.#data = Buffer.from(buffer, offset + RING_CONTROL_BYTES, capacity);
    this.#mask = capacity - 1;
    this.#head = Atomics.load(this.#control, HEAD) >>> 0;
  }

  /** Publishes the reader's mark for the writer (see the layout). */
  setMark(value: number): void {
    Atomics.store(this.#control, MARK, value | 0);
  }

  /** True when a record has been published and not read (one atomic load). */
  hasData(): boolean {
    return this.fault === null && Atomics.load(this.#control, TAIL) >>> 0 !== this.#head;
  }

  /**
   * Hands every published record to `take(data, at, header, body)`, in order, and frees its space:
   * its body is `data[at, at + body)`, of which the first `header` bytes are the message header.
   * `data` is the ring's data area itself, the same view for every record (two views a record, one
   * for the header and one for the payload, were made for nothing): `take` copies what it keeps
   * before it returns, and reads nothing outside the record. Returns the number of records read;
   * a wrong record sets {@link fault} and stops (for good).
   */
  drain(take: (data: Buffer, at: number, header: number, body: number) => void): number {
    if (this.fault !== null) return 0;
    const tail = Atomics.load(this.#control, TAIL) >>> 0;
    let n = 0;
    while (this.#head !== tail) {
      const avail = (tail - this.#head) >>> 0;
      const pos = this.#head & this.#mask;
      const before = this.capacity - pos;
      if (avail > this.capacity || avail < RECORD_HEADER) return this.#broken(n, `published ${avail} bytes, not a whole record`);
      const body = this.#words.getUint32(pos, true);
      if (body === WRAP) {
        if (before > avail) return this.#broken(n, "a wrap marker past what was published");
        this.#head = (this.#head + before) >>> 0;
        continue;
      }
      const h = this.#words.getUint16(pos + 4, true);
      const stamp = this.#words.getUint16(pos + 6, true);
      const need = RECORD_HEADER + pad8(body);
      if (need > avail || need > before) return this.#broken(n, `a record of ${body} bytes runs past the ${Math.min(avail, before)} published`);
      if (h < MIN_MESSAGE_HEADER || h > body) return this.#broken(n, `a message header of ${h} bytes in a ${body}-byte record`);
      if (stamp !== (this.#count & 0xffff)) return this.#broken(n, `record ${this.#count} stamped ${stamp}`);
      this.#head = (this.#head + need) >>> 0;
      this.#count++;
      n++;
      try {
        take(this.#data, pos + RECORD_HEADER, h, body);
      } finally {
        Atomics.store(this.#control, HEAD, this.#head | 0);
      }
    }
    return n;
  }

  #broken(n: number, why: string): number {
    this.fault = why;
    return n;
  }
}
