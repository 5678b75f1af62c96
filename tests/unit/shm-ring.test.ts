// The single-producer/single-consumer ring of the same-node channel: order, wrap-around, a full
// ring, a writer that dies mid-record, scribbled memory, and a real concurrent writer thread.
import fc from "fast-check";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { transformSync } from "esbuild";
import { describe, expect, it } from "vitest";
import { maxRecordBody, RING_CONTROL_BYTES, RingReader, RingWriter, ringBytes } from "../../src/transport/shm-ring.js";

/** A 36-byte message header whose first 4 bytes carry `n` (enough for the ring: it checks only the length). */
function header(n: number): Uint8Array {
  const h = new Uint8Array(36);
  new DataView(h.buffer).setUint32(0, n, true);
  return h;
}

function payload(n: number, len: number): Uint8Array {
  const p = new Uint8Array(len);
  for (let i = 0; i < len; i++) p[i] = (n * 31 + i) & 0xff;
  return p;
}

function pair(capacity = 1024, offset = 0) {
  const buf = new SharedArrayBuffer(offset + ringBytes(capacity));
  return { buf, w: new RingWriter(buf, offset, capacity), r: new RingReader(buf, offset, capacity) };
}

function drainAll(r: RingReader): Array<{ n: number; payload: number[] }> {
  const got: Array<{ n: number; payload: number[] }> = [];
  r.drain((data, at, h, body) => got.push({ n: data.readUInt32LE(at), payload: [...data.subarray(at + h, at + body)] }));
  return got;
}

describe("shared-memory ring", () => {
  it("delivers records in order, each once, across many wrap-arounds, whatever the sizes and read pacing (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: maxRecordBody(1024) - 36 }), fc.boolean()), { minLength: 1, maxLength: 300 }), (ops) => {
        const { w, r } = pair(1024);
        const sent: number[] = [];
        const got: Array<{ n: number; payload: number[] }> = [];
        let next = 0;
        for (const [len, readNow] of ops) {
          while (!w.tryWrite(header(next), len ? payload(next, len) : null)) got.push(...drainAll(r));
          sent.push(next++);
          if (readNow) got.push(...drainAll(r));
        }
        got.push(...drainAll(r));
        expect(got.map((g) => g.n)).toEqual(sent);
        for (const g of got) expect(g.payload).toEqual([...payload(g.n, ops[g.n]![0])].slice(0, ops[g.n]![0]));
        expect(r.fault).toBeNull();
        expect(r.hasData()).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it("says full instead of overwriting what the reader has not read", () => {
    const { w, r } = pair(1024);
    let n = 0;
    while (w.tryWrite(header(n), payload(n, 64))) n++;
    // 8 + 36 + 64 = 108 → 112 bytes a record: 9 fit in 1024.
    expect(n).toBe(9);
    expect(drainAll(r).map((g) => g.n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(w.tryWrite(header(n), payload(n, 64))).toBe(true);
  });

  it("refuses a record larger than an eighth of the ring", () => {
    const { w } = pair(1024);
    expect(() => w.tryWrite(header(0), new Uint8Array(maxRecordBody(1024) - 35))).toThrow(/larger than the ring carries/);
    expect(w.tryWrite(header(0), new Uint8Array(maxRecordBody(1024) - 36))).toBe(true);
  });

  it("never shows the reader half a record: a writer that dies mid-write leaves nothing readable", () => {
    const { w, r } = pair(1024);
    expect(w.tryWrite(header(0), payload(0, 10))).toBe(true);
    expect(w.tryWrite(header(1), payload(1, 60), true)).toBe(true);
    expect(drainAll(r).map((g) => g.n)).toEqual([0]);
    expect(r.hasData()).toBe(false);
    expect(r.fault).toBeNull();
  });

  it("reserve, fill, publish: the record is read only once published, with its stamp in sequence", () => {
    const { w, r } = pair(1024);
    const at = w.reserve(36, 36 + 5);
    expect(at).toBeGreaterThanOrEqual(0);
    w.data.set(header(0), at);
    w.data.set(payload(0, 5), at + 36);
    expect(r.hasData()).toBe(false);
    expect(drainAll(r)).toEqual([]);
    w.publish();
    expect(drainAll(r)).toEqual([{ n: 0, payload: [...payload(0, 5)] }]);
    expect(() => w.publish()).toThrow(/no reserved record/);
    expect(w.tryWrite(header(1), null)).toBe(true);
    expect(drainAll(r).map((g) => g.n)).toEqual([1]);
    expect(r.fault).toBeNull();
  });

  it("never shows the reader a record abandoned before publish; the next reservation takes its place", () => {
    const { w, r } = pair(1024);
    expect(w.tryWrite(header(0), payload(0, 10))).toBe(true);
    const at = w.reserve(36, 36 + 60);
    w.data.set(header(99), at); // filled halfway, then given up
    expect(drainAll(r).map((g) => g.n)).toEqual([0]);
    expect(r.hasData()).toBe(false);
    // Reserved again (a smaller record): written over the abandoned one, stamped as the next.
    expect(w.reserve(36, 36)).toBe(at);
    w.data.set(header(1), at);
    w.publish();
    expect(drainAll(r).map((g) => g.n)).toEqual([1]);
    expect(r.fault).toBeNull();
  });

  it("reserves nothing when full, and refuses a body larger than an eighth of the ring", () => {
    const { w, r } = pair(1024);
    let n = 0;
    for (let at = w.reserve(36, 100); at >= 0; at = w.reserve(36, 100)) {
      w.data.set(header(n++), at);
      w.publish();
    }
    expect(n).toBe(9); // 8 + 100 → 112 bytes a record, as tryWrite
    expect(() => w.publish()).toThrow(/no reserved record/);
    expect(() => w.reserve(36, maxRecordBody(1024) + 1)).toThrow(/larger than the ring carries/);
    expect(drainAll(r).map((g) => g.n)).toEqual([...Array(9).keys()]);
    // Past the end of the data: a wrap marker, then the record at 0.
    expect(w.reserve(36, 100)).toBe(8);
  });

  it("breaks for good on scribbled memory, reading nothing wrong: bad length, bad stamp, bad header length", () => {
    const cases: Array<[string, (v: DataView) => void, RegExp]> = [
      ["length past what was published", (v) => v.setUint32(0, 500, true), /runs past/],
      ["stamp out of sequence", (v) => v.setUint16(6, 7, true), /stamped 7/],
      ["header longer than the record", (v) => v.setUint16(4, 200, true), /message header of 200/],
      ["header too short", (v) => v.setUint16(4, 3, true), /message header of 3/],
    ];
    for (const [, spoil, why] of cases) {
      const { buf, w, r } = pair(1024);
      expect(w.tryWrite(header(0), payload(0, 20))).toBe(true);
      spoil(new DataView(buf, RING_CONTROL_BYTES));
      expect(drainAll(r)).toEqual([]);
      expect(r.fault).toMatch(why);
      expect(w.tryWrite(header(1), null)).toBe(true);
      expect(drainAll(r)).toEqual([]);
      expect(r.hasData()).toBe(false);
    }
  });

  it("breaks on a tail that claims more than the ring holds", () => {
    const { buf, w, r } = pair(1024);
    expect(w.tryWrite(header(0), null)).toBe(true);
    Atomics.store(new Int32Array(buf), 0, 5000);
    expect(drainAll(r)).toEqual([]);
    expect(r.fault).toMatch(/not a whole record/);
  });

  it("checks its geometry: a power-of-two capacity, 64-byte aligned, inside the segment", () => {
    const buf = new SharedArrayBuffer(4096);
    expect(() => new RingWriter(buf, 0, 1000)).toThrow(/power of two/);
    expect(() => new RingWriter(buf, 8, 1024)).toThrow(/64-byte/);
    expect(() => new RingReader(buf, 0, 4096)).toThrow(/does not fit/);
    expect(() => new RingReader(buf, 64 * 40, 1024)).not.toThrow();
  });

  it("carries 100k records from a writer thread in order and intact (real concurrency on shared memory)", async () => {
    const capacity = 4096;
    const offset = 192;
    const buf = new SharedArrayBuffer(offset + ringBytes(capacity));
    const total = 100_000;
    const src = `
      const { workerData } = require("node:worker_threads");
      const { buf, offset, capacity, total, ring } = workerData;
      import(ring).then(({ RingWriter }) => {
        const w = new RingWriter(buf, offset, capacity);
        for (let n = 0; n < total; n++) {
          const len = (n * 7919) % 300;
          const h = new Uint8Array(36); new DataView(h.buffer).setUint32(0, n, true);
          const p = new Uint8Array(len); for (let i = 0; i < len; i++) p[i] = (n + i) & 0xff;
          while (!w.tryWrite(h, len ? p : null)) {}
        }
      });`;
    // The worker runs the same module, compiled to JavaScript here (workers take no loader hooks).
    const dir = mkdtempSync(join(tmpdir(), "zmpi-ring-"));
    const ring = join(dir, "shm-ring.mjs");
    writeFileSync(ring, transformSync(readFileSync(new URL("../../src/transport/shm-ring.ts", import.meta.url), "utf8"), { loader: "ts", format: "esm" }).code);
    const worker = new Worker(src, { eval: true, workerData: { buf, offset, capacity, total, ring } });
    const r = new RingReader(buf, offset, capacity);
    let next = 0;
    let bad = "";
    const deadline = Date.now() + 30_000;
    while (next < total && Date.now() < deadline && !bad) {
      r.drain((data, at, h, body) => {
        const n = data.readUInt32LE(at);
        const len = (n * 7919) % 300;
        if (n !== next) bad ||= `record ${n} where ${next} was due`;
        if (body - h !== len) bad ||= `record ${n}: ${body - h} bytes, not ${len}`;
        for (let i = 0; i < len; i++) if (data[at + h + i] !== ((n + i) & 0xff)) bad ||= `record ${n} byte ${i} wrong`;
        next++;
      });
      await new Promise((res) => setImmediate(res));
    }
    await worker.terminate();
    rmSync(dir, { recursive: true, force: true });
    expect(bad).toBe("");
    expect(r.fault).toBeNull();
    expect(next).toBe(total);
  }, 60_000);
});
