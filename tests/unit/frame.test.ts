// The wire format: header round trip, payload checks, and garbage that must be dropped, never thrown.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesOf, DType, dtypeOf, viewAs } from "../../src/transport/dtype.js";
import { decodeFrames, decodeHeader, encodeHeader, encodeHeaderInto, headerBytes, Kind, type Envelope } from "../../src/transport/frame.js";
import { decodeData, encodeData } from "../../src/comm/payload.js";

/** A copy of `b` with byte `at` set to `v`. */
const patch = (b: Buffer, at: number, v: number): Buffer => {
  const c = Buffer.from(b);
  c[at] = v;
  return c;
};

const env = (over: Partial<Envelope> = {}): Envelope => ({ comm: 3, src: 1, tag: 7, seq: 42, kind: Kind.P2P, dtype: DType.F64, count: 2, ...over });

describe("frame codec", () => {
  it("round-trips a header and a typed payload", () => {
    const payload = Buffer.from(new Float64Array([1.5, -2]).buffer);
    const out = decodeFrames([encodeHeader(env()), payload], 4);
    expect("env" in out && out.env).toEqual(env());
    expect("payload" in out && out.payload).toBe(payload);
  });

  it("keeps meta and ack", () => {
    const e = env({ meta: "allreduce(float64[2], SUM, ring)", ack: 1 });
    const out = decodeFrames([encodeHeader(e), Buffer.alloc(16)], 4);
    expect("env" in out && out.env).toEqual(e);
  });

  it("keeps the address of a single-copy message, which has no payload frame", () => {
    const e = env({ ack: 1, cma: 0x7f00_1234_5000 });
    const out = decodeFrames([encodeHeader(e)], 4);
    expect("env" in out && out.env).toEqual(e);
  });

  it.each([
    ["a single-copy message with a payload frame", [encodeHeader(env({ ack: 1, cma: 4096 })), Buffer.alloc(16)], /payload frame on a cma message/],
    ["a single-copy message without a receipt", [encodeHeader(env({ cma: 4096 }))], /not an acknowledged typed array/],
    ["a single-copy plain value", [encodeHeader(env({ ack: 1, cma: 4096, dtype: DType.MSGPACK }))], /not an acknowledged typed array/],
    ["a single-copy address that is not one", [encodeHeader(env({ ack: 1, cma: -5 }))], /bad cma address/],
    ["a src outside the world", [encodeHeader(env({ src: 4 })), Buffer.alloc(16)], /bad src/],
    ["a payload of the wrong length", [encodeHeader(env()), Buffer.alloc(15)], /payload of 15 bytes for 2 elements/],
    ["a missing payload", [encodeHeader(env())], /missing payload/],
    ["three frames", [encodeHeader(env()), Buffer.alloc(16), Buffer.alloc(1)], /expected 1 or 2 frames/],
    ["a header too short to be one", [Buffer.from([0x5a, 1, 2]), Buffer.alloc(16)], /header of 3 bytes/],
    ["a stranger's bytes of header length", [Buffer.alloc(36, 0x41), Buffer.alloc(16)], /bad magic/],
    ["another header version", [patch(encodeHeader(env()), 1, 9), Buffer.alloc(16)], /header version 9/],
    ["unknown flags", [patch(encodeHeader(env()), 4, 0x80), Buffer.alloc(16)], /bad header flags/],
    ["a meta length past the end", [patch(encodeHeader(env({ meta: "bcast(root 0)" })), 36, 200), Buffer.alloc(16)], /meta length/],
    ["trailing bytes", [Buffer.concat([encodeHeader(env()), Buffer.alloc(3)]), Buffer.alloc(16)], /trailing bytes/],
    ["a fractional count", [Buffer.from(encodeHeader(env())).fill(0, 28, 36).fill(0x3f, 35, 36), Buffer.alloc(16)], /bad count/],
    ["an unknown kind", [encodeHeader(env({ kind: 9 })), Buffer.alloc(16)], /bad kind/],
    ["a negative tag", [encodeHeader(env({ tag: -1 })), Buffer.alloc(16)], /bad tag/],
    ["a msgpack count mismatch", [encodeHeader(env({ dtype: DType.MSGPACK, count: 3 })), Buffer.alloc(2)], /msgpack payload of 2 bytes/],
  ])("rejects %s", (_name, frames, re) => {
    const out = decodeFrames(frames as Buffer[], 4);
    expect("error" in out && out.error).toMatch(re);
  });

  it("encodes into a buffer at an offset the same bytes as a header of its own, with and without cma and meta (fast-check)", () => {
    const envelope = fc.record(
      {
        comm: fc.nat({ max: 0x7fffffff }),
        src: fc.integer({ min: -1, max: 0x7fffffff }),
        tag: fc.nat({ max: 0x7fffffff }),
        seq: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        kind: fc.nat({ max: Kind.SYNC }),
        dtype: fc.nat({ max: DType.NONE }),
        count: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        meta: fc.string({ unit: "binary", maxLength: 250 }), // at most 4 bytes a code point: within the 1024
        ack: fc.constant(1),
        cma: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      },
      { requiredKeys: ["comm", "src", "tag", "seq", "kind", "dtype", "count"] },
    );
    fc.assert(
      fc.property(envelope, fc.nat({ max: 64 }), (e, offset) => {
        const own = encodeHeader(e);
        expect(own.length).toBe(headerBytes(e));
        const target = Buffer.alloc(offset + own.length + 16, 0xee);
        expect(encodeHeaderInto(e, target, offset)).toBe(own.length);
        expect(target.subarray(offset, offset + own.length).equals(own)).toBe(true);
        // Not a byte outside the header's own.
        expect(target.subarray(0, offset).every((b) => b === 0xee)).toBe(true);
        expect(target.subarray(offset + own.length).every((b) => b === 0xee)).toBe(true);
      }),
      { numRuns: 500 },
    );
    for (const over of [{}, { cma: 4096, ack: 1 }, { meta: "allreduce(float64[2], SUM, ring)" }, { meta: "bcast(root 0) · ünïcode", cma: 8, ack: 1 }]) {
      const e = env(over);
      const target = Buffer.alloc(headerBytes(e) + 3);
      encodeHeaderInto(e, target, 3);
      expect(target.subarray(3).equals(encodeHeader(e))).toBe(true);
      const out = decodeFrames([target.subarray(3), ...(e.cma === undefined ? [Buffer.alloc(16)] : [])], 4);
      expect("env" in out && out.env).toEqual(e);
    }
  });

  it("refuses a meta longer than a header carries, writing nothing", () => {
    const e = env({ meta: "x".repeat(1025) });
    expect(() => headerBytes(e)).toThrow(/meta of 1025 bytes/);
    expect(() => encodeHeader(e)).toThrow(/meta of 1025 bytes/);
    const target = Buffer.alloc(2000, 0xee);
    expect(() => encodeHeaderInto(e, target, 0)).toThrow(/meta of 1025 bytes/);
    expect(target.every((b) => b === 0xee)).toBe(true);
  });

  it("decodes a header where it lies in a larger buffer as decodeFrames does, the payload given by its length", () => {
    const rejects = (frames: Buffer[]) => {
      const out = decodeFrames(frames, 4);
      return "error" in out ? out.error : null;
    };
    const cases: Buffer[][] = [
      [encodeHeader(env()), Buffer.alloc(16)],
      [encodeHeader(env({ meta: "bcast(root 0)", ack: 1 })), Buffer.alloc(16)],
      [encodeHeader(env({ ack: 1, cma: 4096 }))],
      [encodeHeader(env({ dtype: DType.NONE, count: 0 }))],
      [encodeHeader(env({ dtype: DType.F32, count: 0 })), Buffer.alloc(0)],
      [encodeHeader(env()), Buffer.alloc(15)],
      [encodeHeader(env())],
      [encodeHeader(env({ ack: 1, cma: 4096 })), Buffer.alloc(16)],
      [patch(encodeHeader(env()), 4, 0x80), Buffer.alloc(16)],
      [Buffer.concat([encodeHeader(env()), Buffer.alloc(3)]), Buffer.alloc(16)],
    ];
    for (const frames of cases) {
      const [head, payload] = frames as [Buffer, Buffer | undefined];
      const around = Buffer.concat([Buffer.alloc(5, 0x5a), head, Buffer.alloc(7, 0x5a)]);
      const got = decodeHeader(around, 5, head.length, payload ? payload.length : -1, 4);
      const want = decodeFrames(frames, 4);
      expect("error" in got ? got.error : null).toBe(rejects(frames));
      if ("env" in want) expect(got).toEqual(want.env);
    }
  });

  it("never throws on random frames", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 0, maxLength: 4 }), (frames) => {
        const out = decodeFrames(
          frames.map((f) => Buffer.from(f)),
          8,
        );
        expect(out).toBeTypeOf("object");
      }),
      { numRuns: 2000 },
    );
  });

  it("encodes typed arrays as raw bytes: small ones copied, large ones aliased for zero-copy", () => {
    const small = new Float32Array([1, 2, 3]);
    const e = encodeData(small, 64);
    expect(e).toMatchObject({ dtype: DType.F32, count: 3, zeroCopy: false });
    small[0] = 9;
    expect(new Float32Array(e.bytes!.buffer, e.bytes!.byteOffset, 3)[0]).toBe(1);
    const big = new Float64Array(100);
    const b = encodeData(big, 64);
    expect(b.zeroCopy).toBe(true);
    expect(b.bytes!.buffer).toBe(big.buffer);
  });

  it("gives back the sender's array type, aligned even from a misaligned buffer", () => {
    for (const a of [new Float64Array([1, 2]), new Int32Array([-1]), new BigInt64Array([2n ** 62n]), new Uint8Array([7]), Buffer.from("xy")]) {
      const raw = Buffer.concat([Buffer.alloc(1), Buffer.from(bytesOf(a))]).subarray(1); // byteOffset 1
      const back = viewAs(dtypeOf(a), raw);
      expect(back.constructor).toBe(a.constructor);
      expect(Array.from(back as unknown as ArrayLike<unknown>)).toEqual(Array.from(a as unknown as ArrayLike<unknown>));
      expect(back.byteOffset % (a as Float64Array).BYTES_PER_ELEMENT).toBe(0);
    }
  });

  it("decodes values and refuses an out array of the wrong type or size", () => {
    const m = { source: 0, tag: 0, dtype: DType.F64, count: 2, payload: Buffer.from(new Float64Array([1, 2]).buffer) };
    expect(() => decodeData(m, new Int32Array(2))).toThrow(/out array is int32 but the message holds float64/);
    expect(() => decodeData(m, new Float64Array(1))).toThrow(/has 1 elements but the message holds 2/);
    const obj = encodeData({ a: [1, "b"], f: new Float32Array([0.5]) }, 64);
    const v = decodeData({ source: 0, tag: 0, dtype: obj.dtype, count: obj.count, payload: obj.bytes as Buffer }) as { a: unknown[]; f: Float32Array };
    expect(v.a).toEqual([1, "b"]);
    expect(v.f).toBeInstanceOf(Float32Array);
    expect(() => encodeData(Symbol("x"), 64)).toThrow(/cannot send a symbol/);
  });
});
