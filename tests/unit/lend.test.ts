// Reading a stream payload straight into the receive that will take it (MatchQueue.lend and the
// FrameParser's lent memory): lent only when that receive is sure, taken back intact when the
// receive ends without the message, never written after it is taken back.
import { describe, expect, it } from "vitest";
import { ANY_SOURCE, ANY_TAG, MatchQueue, readPayloadInto, type Incoming } from "../../src/comm/matching.js";
import { DType } from "../../src/transport/dtype.js";
import { FrameParser, framePrefix } from "../../src/transport/stream-frame.js";

const never = () => new Error("timed out");
/** A receive's out array, as the communicator passes it. */
const into = (a: Float64Array) => a;
/** A wait whose rejection (failAll at the end of a case) is expected. */
const quiet = (p: Promise<unknown>) => void p.catch(() => {});
const msg = (source: number, tag: number, payload: Buffer): Incoming => ({ source, tag, dtype: DType.F64, count: payload.length / 8, payload });

describe("MatchQueue.lend", () => {
  it("lends the out array of the earliest fitting receive when it names the sender, and the message then needs no copy", async () => {
    const q = new MatchQueue();
    const out = new Float64Array(8);
    const got = q.wait(1, 5, false, "recv", 10_000, never, into(out));
    const mem = q.lend(1, 5, DType.F64, 48, () => expect.fail("not revoked"))!;
    expect(mem.buffer).toBe(out.buffer);
    expect(mem.byteLength).toBe(48);
    new Float64Array(mem.buffer, mem.byteOffset, 6).set([1, 2, 3, 4, 5, 6]);
    q.arrive(msg(1, 5, Buffer.from(mem.buffer, mem.byteOffset, mem.byteLength)));
    const m = await got;
    readPayloadInto(m, mem); // same memory: nothing to copy
    expect([...out]).toEqual([1, 2, 3, 4, 5, 6, 0, 0]);
  });

  it("lends nothing when the receive is not sure to take this message", () => {
    const rules: Array<[string, (q: MatchQueue) => void, [number, number, number, number]]> = [
      ["no receive", () => {}, [1, 5, DType.F64, 64]],
      ["a wildcard-source receive first", (q) => quiet(q.wait(ANY_SOURCE, 5, false, "recv", 10_000, never, into(new Float64Array(8)))), [1, 5, DType.F64, 64]],
      ["a receive without out first", (q) => quiet(q.wait(1, ANY_TAG, false, "recv", 10_000, never)), [1, 5, DType.F64, 64]],
      ["out of another element type", (q) => quiet(q.wait(1, 5, false, "recv", 10_000, never, into(new Float64Array(8)))), [1, 5, DType.F32, 64]],
      ["out too small", (q) => quiet(q.wait(1, 5, false, "recv", 10_000, never, into(new Float64Array(8)))), [1, 5, DType.F64, 72]],
      ["another tag", (q) => quiet(q.wait(1, 6, false, "recv", 10_000, never, into(new Float64Array(8)))), [1, 5, DType.F64, 64]],
    ];
    for (const [why, post, [src, tag, dtype, n]] of rules) {
      const q = new MatchQueue();
      post(q);
      expect(
        q.lend(src, tag, dtype, n, () => {}),
        why,
      ).toBeNull();
      q.failAll(() => new Error("end"));
    }
  });

  it("skips a probe ahead of the receive, and lends one receive once", () => {
    const q = new MatchQueue();
    quiet(q.wait(1, 5, true, "probe", 10_000, never));
    quiet(q.wait(1, 5, false, "recv", 10_000, never, into(new Float64Array(8))));
    expect(q.lend(1, 5, DType.F64, 64, () => {})).not.toBeNull();
    expect(q.lend(1, 5, DType.F64, 64, () => {})).toBeNull();
    q.failAll(() => new Error("end"));
  });

  it("takes the memory back before a receive ends without its message: deadline, failure, another message", async () => {
    const order: string[] = [];
    const q = new MatchQueue();
    const timed = q.wait(
      1,
      5,
      false,
      "recv",
      20,
      () => {
        order.push("rejected");
        return new Error("timed out");
      },
      into(new Float64Array(8)),
    );
    q.lend(1, 5, DType.F64, 64, () => order.push("revoked"));
    await expect(timed).rejects.toThrow("timed out");
    expect(order).toEqual(["revoked", "rejected"]);

    let revoked = 0;
    const failed = q.wait(1, 5, false, "recv", 10_000, never, into(new Float64Array(8)));
    q.lend(1, 5, DType.F64, 64, () => revoked++);
    q.failAll(() => new Error("rank 1 died"));
    await expect(failed).rejects.toThrow("rank 1 died");
    expect(revoked).toBe(1);

    const taken = q.wait(1, 5, false, "recv", 10_000, never, into(new Float64Array(8)));
    q.lend(1, 5, DType.F64, 64, () => revoked++);
    q.arrive(msg(1, 5, Buffer.alloc(64))); // not the lent memory
    await taken;
    expect(revoked).toBe(2);
  });
});

describe("FrameParser with lent memory", () => {
  const header = Buffer.from("hdr");
  const payload = Buffer.from(new Float64Array(1000).map((_, i) => i + 0.5).buffer);
  const wire = Buffer.concat([framePrefix(header, payload.length), payload]); // the prefix carries the header
  const prefix = wire.length - payload.length;

  it("reads a payload that comes in pieces into the lent memory and hands that memory on", () => {
    const mem = Buffer.alloc(payload.length);
    const got: Buffer[] = [];
    const parser = new FrameParser(
      (_h, p) => got.push(p!),
      () => null,
      false,
      (h, n) => (h.equals(header) && n === payload.length ? mem : null),
    );
    for (let at = 0; at < wire.length; at += 1000) expect(parser.push(wire.subarray(at, at + 1000))).toBeNull();
    expect(got).toHaveLength(1);
    expect(got[0]).toBe(mem);
    expect(mem.equals(payload)).toBe(true);
  });

  it("moves a payload off lent memory taken back midway: what came is kept, the rest never touches it", () => {
    const mem = Buffer.alloc(payload.length);
    const got: Buffer[] = [];
    let takeBack: (() => Buffer | null) | null = null;
    const parser = new FrameParser(
      (_h, p) => got.push(p!),
      () => null,
      false,
      (_h, _n, back) => {
        takeBack = back;
        return mem;
      },
    );
    expect(parser.push(wire.subarray(0, prefix + 3000))).toBeNull();
    const own = takeBack!()!;
    expect(own).not.toBe(mem);
    expect(takeBack!()).toBeNull(); // once
    mem.fill(0xee); // the receive's owner writes into its array again
    expect(parser.push(wire.subarray(prefix + 3000))).toBeNull();
    expect(got[0]).toBe(own);
    expect(own.equals(payload)).toBe(true);
    expect(mem.every((b) => b === 0xee)).toBe(true);
  });

  it("reads straight into its pending target, as the TCP reader does, and takes it back between reads", () => {
    const mem = Buffer.alloc(payload.length);
    let takeBack: (() => Buffer | null) | null = null;
    const got: Buffer[] = [];
    const parser = new FrameParser(
      (_h, p) => got.push(p!),
      () => null,
      true,
      (_h, _n, back) => {
        takeBack = back;
        return mem;
      },
    );
    expect(parser.push(Buffer.from(wire.subarray(0, prefix + 100)))).toBeNull();
    let t = parser.pendingTarget()!;
    payload.copy(t, 0, 100, 4000);
    parser.wrote(3900);
    takeBack!();
    t = parser.pendingTarget()!;
    expect(t.buffer).not.toBe(mem.buffer);
    payload.copy(t, 0, 4000);
    parser.wrote(payload.length - 4000);
    expect(got[0]!.equals(payload)).toBe(true);
    expect(parser.midFrame).toBe(false);
  });
});
