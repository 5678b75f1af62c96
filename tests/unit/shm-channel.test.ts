// The same-node channel's protocol in one process: offers, the token check, the doorbell only when
// the reader sleeps, a full ring, a broken ring, a polling receive. Real processes and the real
// segments are in tests/mp/shm.test.ts.
import { describe, expect, it } from "vitest";
import { DType } from "../../src/transport/dtype.js";
import { type Envelope, Kind } from "../../src/transport/frame.js";
import { YIELD_AFTER_US, YIELD_EVERY_US } from "../../src/transport/poll-budget.js";
import { type ChannelHost, type SegmentSource, SHM_SPIN_US, ShmChannel } from "../../src/transport/shm-channel.js";

/** Segments in this process's memory; `attach` finds them by (pid, fd) as the kernel would. */
function memorySegments(): SegmentSource & { released: number } {
  const byFd = new Map<string, SharedArrayBuffer>();
  let nextFd = 10;
  const src = {
    released: 0,
    create(bytes: number) {
      const fd = nextFd++;
      const buffer = new SharedArrayBuffer(bytes);
      byFd.set(`${process.pid}/${fd}`, buffer);
      return { fd, buffer };
    },
    attach(pid: number, fd: number, bytes: number) {
      const b = byFd.get(`${pid}/${fd}`);
      if (!b) throw new Error(`no segment ${fd} in process ${pid}`);
      if (b.byteLength !== bytes) throw new Error(`segment of ${b.byteLength} bytes, not ${bytes}`);
      return b;
    },
    release() {
      src.released++;
    },
    closeFd() {},
  };
  return src;
}

interface Side {
  ch: ShmChannel;
  got: Array<[Envelope, number[] | null]>;
  bells: number[];
  broken: string[];
}

/** Two ranks' channels, wired as the transport wires them (offers and bells delivered at once). */
function pairOfRanks(spinUs = 50, lastSent = -1, yielder: () => void = () => {}) {
  const segments = memorySegments();
  const sides: Side[] = [];
  for (const rank of [0, 1]) {
    const side: Side = { ch: null as unknown as ShmChannel, got: [], bells: [], broken: [] };
    const host: ChannelHost = {
      rank,
      size: 2,
      offer: (peer, offer) => sides[peer]!.ch.accept(rank, process.pid, offer, lastSent),
      bell: (peer) => sides[peer]!.bells.push(rank),
      deliver: (env, payload) => side.got.push([env, payload ? [...payload] : null]),
      broken: (peer, why) => side.broken.push(`${peer}: ${why}`),
    };
    side.ch = new ShmChannel(host, segments, spinUs, 1024, yielder);
    sides.push(side);
  }
  return { a: sides[0]!, b: sides[1]!, segments };
}

function message(src: number, seq: number, payload: number[] | null = null): [Envelope, Uint8Array | null] {
  const env: Envelope = { comm: 0, src, tag: 7, seq, kind: Kind.P2P, dtype: payload ? DType.U8 : DType.NONE, count: payload ? payload.length : 0 };
  return [env, payload ? Uint8Array.from(payload) : null];
}

describe("same-node shared-memory channel", () => {
  it("offers each peer its ring; a peer writes, the owner reads, in order, payload copied", () => {
    const { a, b } = pairOfRanks();
    a.ch.start([{ rank: 1, pid: process.pid }]);
    b.ch.start([{ rank: 0, pid: process.pid }]);
    expect(b.ch.sendsTo(0)).toBe(true);
    expect(a.ch.sendsTo(1)).toBe(true);
    expect(b.ch.trySend(0, 0, ...message(1, 0, [1, 2, 3]))).toBe(true);
    expect(b.ch.trySend(0, 1, ...message(1, 1))).toBe(true);
    expect(a.ch.poll()).toBe(2);
    expect(a.got.map(([e, p]) => [e.src, e.seq, p])).toEqual([
      [1, 0, [1, 2, 3]],
      [1, 1, null],
    ]);
    expect(a.ch.poll()).toBe(0);
  });

  it("carries every header shape intact: meta, a single-copy address, an empty array, a value, a receipt", () => {
    const { a, b } = pairOfRanks();
    a.ch.start([{ rank: 1, pid: process.pid }]);
    b.ch.start([{ rank: 0, pid: process.pid }]);
    const base = { comm: 3, src: 1, tag: 9 };
    const sent: Array<[Envelope, number[] | null]> = [
      [{ ...base, seq: 0, kind: Kind.COLL, dtype: DType.F64, count: 1, meta: "allreduce(float64[1], SUM, ring) · ü" }, [0, 0, 0, 0, 0, 0, 0xf0, 0x3f]],
      [{ ...base, seq: 1, kind: Kind.P2P, dtype: DType.F32, count: 1 << 20, ack: 1, cma: 0x7f00_1234_5000 }, null],
      [{ ...base, seq: 2, kind: Kind.P2P, dtype: DType.F32, count: 0 }, []],
      [{ ...base, seq: 3, kind: Kind.P2P, dtype: DType.MSGPACK, count: 3 }, [0x92, 1, 2]],
      [{ comm: 0, src: 1, tag: 0, seq: 0, kind: Kind.ACK, dtype: DType.NONE, count: 41 }, null],
    ];
    for (const [env, p] of sent) expect(b.ch.trySend(0, env.kind === Kind.ACK ? -1 : env.seq, env, p && Uint8Array.from(p))).toBe(true);
    expect(a.ch.poll()).toBe(sent.length);
    expect(a.broken).toEqual([]);
    expect(a.got).toEqual(sent);
  });

  it("delivers payloads that stay intact after their ring space is written over", () => {
    const { a, b } = pairOfRanks();
    a.ch.start([{ rank: 1, pid: process.pid }]);
    b.ch.start([{ rank: 0, pid: process.pid }]);
    const kept: Buffer[] = [];
    (a.ch as unknown as { host: ChannelHost }).host.deliver = (_env, payload) => kept.push(payload!);
    // 100 records of 60 bytes through a 1 KiB ring: each slot is reused many times.
    for (let seq = 0; seq < 100; seq++) {
      expect(b.ch.trySend(0, seq, ...message(1, seq, new Array(60).fill(seq)))).toBe(true);
      expect(a.ch.poll()).toBe(1);
    }
    expect(kept.map((p) => p.every((x) => x === p[0]) && p[0])).toEqual([...Array(100).keys()]);
  });

  it("rings the bell once while the reader sleeps, never while it polls", () => {
    const { a, b } = pairOfRanks();
    a.ch.start([{ rank: 1, pid: process.pid }]);
    b.ch.start([{ rank: 0, pid: process.pid }]);
    // Asleep from the start: the first write rings, the next ones do not (the bell is on its way).
    b.ch.trySend(0, 0, ...message(1, 0));
    b.ch.trySend(0, 1, ...message(1, 1));
    expect(a.bells).toEqual([1]);
    // The bell's arrival: read, re-arm.
    a.ch.sleep();
    expect(a.got).toHaveLength(2);
    b.ch.trySend(0, 2, ...message(1, 2));
    expect(a.bells).toEqual([1, 1]);
    a.ch.sleep();
    // A receive that polls finds the message without a bell.
    let n = 0;
    a.ch.spin([1], () => {
      if (n++ === 3) b.ch.trySend(0, 3, ...message(1, 3));
      return a.got.length === 4;
    });
    expect(a.got).toHaveLength(4);
    expect(a.bells).toEqual([1, 1]);
  });

  it("after a poll that found its message, arms the doorbell only when the event-loop turn ends", async () => {
    const { a, b } = pairOfRanks();
    a.ch.start([{ rank: 1, pid: process.pid }]);
    b.ch.start([{ rank: 0, pid: process.pid }]);
    b.ch.trySend(0, 0, ...message(1, 0));
    a.ch.sleep();
    let n = 0;
    a.ch.spin([1], () => {
      if (++n === 2) b.ch.trySend(0, 1, ...message(1, 1)); // written while the reader polls
      return a.got.length === 2;
    });
    // Still this turn: the reader will poll again soon, a writer need not ring.
    b.ch.trySend(0, 2, ...message(1, 2));
    expect(a.bells).toEqual([1]);
    await new Promise((r) => setImmediate(r));
    // The turn ended: armed, and what came meanwhile was read.
    expect(a.got.map(([e]) => e.seq)).toEqual([0, 1, 2]);
    b.ch.trySend(0, 3, ...message(1, 3));
    expect(a.bells).toEqual([1, 1]);
  });

  it("polls for one source, any source, or several, asking only about the waits a ring could end", () => {
    const { a, b } = pairOfRanks();
    a.ch.start([{ rank: 1, pid: process.pid }]);
    b.ch.start([{ rank: 0, pid: process.pid }]);
    for (const sources of [[1], [-1], [5, 1], [1, 5, -1]]) {
      const asked = new Set<number>();
      const before = a.got.length;
      let n = 0;
      a.ch.spin(sources, (i) => {
        asked.add(i);
        if (++n === 3) b.ch.trySend(0, -1, ...message(1, 0));
        return a.got.length > before;
      });
      expect(a.got.length).toBe(before + 1);
      expect([...asked].sort()).toEqual([...sources.keys()].filter((i) => sources[i] !== 5));
    }
    // No wait a ring could end: not asked at all.
    let calls = 0;
    a.ch.spin([5, 7], () => ++calls > 0);
    a.ch.spin([], () => ++calls > 0);
    expect(calls).toBe(0);
  });

  it("a polling receive gives up after its budget and then sleeps (the next write rings)", () => {
    const { a, b } = pairOfRanks(200);
    a.ch.start([{ rank: 1, pid: process.pid }]);
    b.ch.start([{ rank: 0, pid: process.pid }]);
    const t0 = performance.now();
    a.ch.spin([1], () => false);
    const us = (performance.now() - t0) * 1000;
    expect(us).toBeGreaterThanOrEqual(200);
    expect(us).toBeLessThan(50_000);
    b.ch.trySend(0, 0, ...message(1, 0));
    expect(a.bells).toEqual([1]);
  });

  it("doubles the next budget after a poll that ran out (to at most 10×), halves it after one that found its message", () => {
    const { a, b } = pairOfRanks(2000);
    a.ch.start([{ rank: 1, pid: process.pid }]);
    b.ch.start([{ rank: 0, pid: process.pid }]);
    const timed = (done: () => boolean) => {
      const t0 = performance.now();
      a.ch.spin([1], done);
      return performance.now() - t0;
    };
    expect(timed(() => false)).toBeGreaterThanOrEqual(2);
    expect(timed(() => false)).toBeGreaterThanOrEqual(4);
    expect(timed(() => false)).toBeGreaterThanOrEqual(8);
    for (let i = 0; i < 3; i++) timed(() => false);
    expect(timed(() => false)).toBeGreaterThanOrEqual(20); // the cap
    // Found at once four times: 20 → 10 → 5 → 2.5 → 2 ms.
    for (let i = 0; i < 4; i++) {
      b.ch.trySend(0, -1, ...message(1, 0));
      timed(() => a.got.length > i);
    }
    const back = timed(() => false);
    expect(back).toBeGreaterThanOrEqual(2);
    expect(back).toBeLessThan(15); // not the 20 ms it had grown to
    expect(timed(() => false)).toBeGreaterThanOrEqual(4);
  });

  it("a receipt's wait polls for at least the time it asks (the peer's copy), whatever the budget", () => {
    const { a, b } = pairOfRanks(200);
    a.ch.start([{ rank: 1, pid: process.pid }]);
    b.ch.start([{ rank: 0, pid: process.pid }]);
    const t0 = performance.now();
    a.ch.spin([1], () => false, 5000);
    const us = (performance.now() - t0) * 1000;
    expect(us).toBeGreaterThanOrEqual(5000);
    expect(us).toBeLessThan(500_000);
    // A found message ends it at once: found after 2 ms, not after the 50 ms asked for.
    const t1 = performance.now();
    a.ch.spin(
      [1],
      () => {
        if (a.got.length === 0 && performance.now() - t1 >= 2) b.ch.trySend(0, -1, ...message(1, 0));
        return a.got.length > 0;
      },
      50_000,
    );
    const found = performance.now() - t1;
    expect(found).toBeGreaterThanOrEqual(2);
    expect(found).toBeLessThan(40);
  });

  it(`a poll that finds nothing for ${YIELD_AFTER_US} µs gives up its core every ${YIELD_EVERY_US} µs; one that finds sooner never does`, () => {
    const yields: number[] = [];
    let t0 = 0;
    const { a, b } = pairOfRanks(2000, -1, () => yields.push(performance.now() - t0));
    a.ch.start([{ rank: 1, pid: process.pid }]);
    b.ch.start([{ rank: 0, pid: process.pid }]);
    t0 = performance.now();
    a.ch.spin([1], () => false);
    expect(yields.length).toBeGreaterThanOrEqual(20); // 2 ms: ~200 on an idle machine
    expect(yields[0]!).toBeGreaterThanOrEqual(YIELD_AFTER_US / 1000);
    // At most one per YIELD_EVERY_US of the poll's clock after the first.
    expect(yields.length).toBeLessThanOrEqual(Math.ceil((yields.at(-1)! * 1000 - YIELD_AFTER_US) / YIELD_EVERY_US) + 1);
    yields.length = 0;
    b.ch.trySend(0, -1, ...message(1, 0));
    a.ch.spin([1], () => a.got.length > 0);
    expect(a.got.length).toBe(1);
    expect(yields).toEqual([]);
  });

  it("does not poll for a sender it has no ring from, nor with a budget of 0", () => {
    const { a, b } = pairOfRanks(0);
    a.ch.start([{ rank: 1, pid: process.pid }]);
    b.ch.start([{ rank: 0, pid: process.pid }]);
    let calls = 0;
    a.ch.spin([1], () => ++calls > 0);
    expect(calls).toBe(0);
    const c = pairOfRanks(1000);
    c.a.ch.start([{ rank: 1, pid: process.pid }]);
    c.a.ch.spin([5], () => ++calls > 0);
    expect(calls).toBe(0);
  });

  it("says no when a message is too large or the ring is full, writing nothing", () => {
    const { a, b } = pairOfRanks();
    a.ch.start([{ rank: 1, pid: process.pid }]);
    b.ch.start([{ rank: 0, pid: process.pid }]);
    expect(b.ch.trySend(0, 0, ...message(1, 0, new Array(200).fill(1)))).toBe(false);
    let seq = 0;
    while (b.ch.trySend(0, seq, ...message(1, seq, new Array(40).fill(seq)))) seq++;
    expect(seq).toBeGreaterThan(5);
    a.ch.poll();
    expect(a.got.map(([e]) => e.seq)).toEqual([...Array(seq).keys()]);
    expect(b.ch.trySend(0, seq, ...message(1, seq))).toBe(true);
  });

  it("after a message went by the socket, keeps later ones there until the reader has delivered it", () => {
    const { a, b } = pairOfRanks();
    a.ch.start([{ rank: 1, pid: process.pid }]);
    b.ch.start([{ rank: 0, pid: process.pid }]);
    expect(b.ch.trySend(0, 0, ...message(1, 0))).toBe(true);
    b.ch.sentBySocket(0, 1); // message 1 went by the socket
    expect(b.ch.trySend(0, 2, ...message(1, 2))).toBe(false);
    expect(b.ch.trySend(0, -1, ...message(1, 0))).toBe(true); // an unnumbered receipt is not held back
    a.ch.delivered(1, 0);
    expect(b.ch.trySend(0, 2, ...message(1, 2))).toBe(false);
    a.ch.delivered(1, 1); // the reader has delivered message 1: the ring again
    expect(b.ch.trySend(0, 3, ...message(1, 3))).toBe(true);
  });

  it("a ring accepted after messages went by the socket waits for the last of them", () => {
    const { a, b } = pairOfRanks(50, 4); // rank 1 had sent messages 0..4 by the socket
    a.ch.start([{ rank: 1, pid: process.pid }]);
    expect(b.ch.sendsTo(0)).toBe(true);
    expect(b.ch.trySend(0, 5, ...message(1, 5))).toBe(false);
    a.ch.delivered(1, 4);
    expect(b.ch.trySend(0, 5, ...message(1, 5))).toBe(true);
  });

  it("polls 100 µs by default, never when the machine has more of the job's ranks than cores; a setting wins", () => {
    const host: ChannelHost = { rank: 0, size: 3, offer() {}, bell() {}, deliver() {}, broken() {} };
    const peers = [
      { rank: 1, pid: process.pid },
      { rank: 2, pid: process.pid },
    ];
    const budget = (setting: number | undefined, cores: number) => {
      const ch = new ShmChannel(host, memorySegments(), setting, 1024);
      ch.start(peers, 7, cores);
      return ch.spinUs;
    };
    expect(budget(undefined, 4)).toBe(SHM_SPIN_US);
    expect(budget(undefined, 3)).toBe(SHM_SPIN_US);
    expect(budget(undefined, 2)).toBe(0);
    expect(budget(250, 2)).toBe(250);
    expect(budget(0, 8)).toBe(0);
  });

  it("refuses an offer whose token is not the segment's, or that is malformed, and keeps the reason", () => {
    const { a, b } = pairOfRanks();
    const segments = memorySegments();
    const seg = segments.create(128 + 128 + 1024);
    const fake = new ShmChannel({ rank: 1, size: 2, offer() {}, bell() {}, deliver() {}, broken() {} }, segments, 0, 1024);
    expect(fake.accept(0, process.pid, JSON.stringify({ fd: seg.fd, bytes: 1280, offset: 128, capacity: 1024, token: "00".repeat(16) }))).toBe(false);
    expect(fake.refused.get(0)).toMatch(/not a zmpi segment|token/);
    expect(fake.accept(0, process.pid, "{nope")).toBe(false);
    expect(fake.refused.get(0)).toMatch(/not JSON/);
    expect(fake.accept(0, process.pid, JSON.stringify({ fd: 1, bytes: 10, offset: 0, capacity: 1024, token: "x" }))).toBe(false);
    expect(fake.refused.get(0)).toMatch(/malformed/);
    expect(segments.released).toBe(1);
    void a;
    void b;
  });

  it("reports a ring whose record names another sender, and reads nothing more from it", () => {
    const { a, b } = pairOfRanks();
    a.ch.start([{ rank: 1, pid: process.pid }]);
    b.ch.start([{ rank: 0, pid: process.pid }]);
    expect(b.ch.trySend(0, 0, ...message(0, 0))).toBe(true); // rank 1 writes a header claiming rank 0
    a.ch.poll();
    expect(a.got).toEqual([]);
    expect(a.broken).toEqual(["1: a message in rank 1's ring names rank 0 as its sender"]);
    expect(b.ch.trySend(0, 1, ...message(1, 1))).toBe(true);
    expect(a.ch.poll()).toBe(0);
    expect(a.ch.receivesFrom(1)).toBe(false);
  });

  it("offers lazily beyond the eager limit, at the peer's first message", () => {
    const { a, b } = pairOfRanks();
    a.ch.start([{ rank: 1, pid: process.pid }], 0);
    expect(b.ch.sendsTo(0)).toBe(false);
    a.ch.contact(1);
    expect(b.ch.sendsTo(0)).toBe(true);
  });

  it("forgets a dead peer both ways and unmaps its segment", () => {
    const { a, b, segments } = pairOfRanks();
    a.ch.start([{ rank: 1, pid: process.pid }]);
    b.ch.start([{ rank: 0, pid: process.pid }]);
    b.ch.forget(0);
    expect(b.ch.sendsTo(0)).toBe(false);
    expect(b.ch.receivesFrom(0)).toBe(false);
    expect(segments.released).toBe(1);
    b.ch.close();
    a.ch.close();
    expect(segments.released).toBe(4);
  });
});
