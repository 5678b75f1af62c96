// The same-machine stream channel's framing: any chunking of the byte stream gives back exactly
// the messages written, and lengths no sender can mean are refused before anything is allocated.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FrameParser, framePrefix, MAX_STREAM_PAYLOAD } from "../../src/transport/stream-frame.js";

function wire(msgs: Array<[Buffer, Buffer | null]>): Buffer {
  return Buffer.concat(msgs.flatMap(([h, p]) => (p ? [framePrefix(h, p.length), p] : [framePrefix(h, -1)])));
}

function cut(buf: Buffer, points: number[]): Buffer[] {
  const at = [...new Set(points.map((p) => p % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...at, buf.length]) {
    if (p > prev) out.push(buf.subarray(prev, p));
    prev = p;
  }
  return out;
}

describe("stream framing", () => {
  it("gives back every message, whatever the chunking (fast-check)", () => {
    const msg = fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 80 }), fc.option(fc.uint8Array({ maxLength: 3000 }), { nil: null }));
    fc.assert(
      fc.property(fc.array(msg, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (msgs, points) => {
        const frames = msgs.map(([h, p]) => [Buffer.from(h), p === null ? null : Buffer.from(p)] as [Buffer, Buffer | null]);
        const got: Array<[Buffer, Buffer | null]> = [];
        const parser = new FrameParser((h, p) => got.push([Buffer.from(h), p === null ? null : Buffer.from(p)]));
        for (const chunk of cut(wire(frames), points)) expect(parser.push(chunk)).toBeNull();
        expect(got).toEqual(frames);
      }),
      { numRuns: 500 },
    );
  });

  it("gathers a payload split over many chunks into one buffer of its own", () => {
    const payload = Buffer.from(new Float64Array(10_000).map((_, i) => i).buffer);
    const got: Buffer[] = [];
    const parser = new FrameParser((_h, p) => got.push(p!));
    for (const c of cut(wire([[Buffer.from("hdr"), payload]]), [5, 20, 1000, 50_000, 70_000])) parser.push(c);
    expect(got).toHaveLength(1);
    expect(got[0]!.equals(payload)).toBe(true);
    expect(got[0]!.byteOffset % 8).toBe(0);
  });

  it.each([
    ["a zero-length header", Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0xbf]), /header of 0 bytes/],
    ["a huge header", Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0xbf]), /header of 65535 bytes/],
    ["a fractional payload length", Buffer.concat([Buffer.from([1, 0, 0, 0]), Buffer.from(new Float64Array([2.5]).buffer)]), /payload length 2.5/],
  ])("refuses %s", (_name, bytes, re) => {
    expect(new FrameParser(() => {}).push(bytes)).toMatch(re);
  });

  it("refuses a payload claim beyond the largest buffer before allocating it (2^40 bytes: no RangeError, no crash)", () => {
    const claim = (n: number) => Buffer.concat([Buffer.from([1, 0, 0, 0]), Buffer.from(new Float64Array([n]).buffer), Buffer.from("h")]);
    expect(new FrameParser(() => {}).push(claim(2 ** 40))).toMatch(/payload length 1099511627776 \(at most/);
    expect(new FrameParser(() => {}).push(claim(MAX_STREAM_PAYLOAD + 1))).toMatch(/at most/);
    expect(new FrameParser(() => {}).push(claim(-5))).toMatch(/payload length -5/);
  });
});
