// Point-to-point semantics on the in-memory transport: bad input refused before anything is sent,
// every deadline honoured, PROC_NULL, sendrecvReplace, ssend/issend, Communicator.free(). Cases
// from mpi4py's test/test_p2p_obj.py and test_p2p_buf.py (testSendAndRecv, testSSendAndRecv,
// testISSendAndRecv, testIRecvAndSSend, testProbe, testSendrecv, testSendrecvReplace, PROC_NULL
// throughout), run over the world, a dup, a self communicator and a reversed split.
import { describe, expect, it } from "vitest";
import { Engine } from "../../src/comm/engine.js";
import { ANY_SOURCE, ANY_TAG, Communicator, Op, PROC_NULL, TimeoutError, UsageError, waitAll, type TransportStats } from "../../src/index.js";
import { memoryWorld } from "../../src/groups/memory-world.js";
import type { OutboundEnvelope, Transport } from "../../src/transport/transport.js";
import { emptyStats } from "../../src/transport/transport.js";
import { onEveryComm } from "../helpers/p2p-comms.js";

const tick = () => new Promise<void>((r) => setImmediate(r));
const messages: unknown[] = [null, true, false, -7, 0, 7, -2.17, 3.14, "mpi4py", [1, "two", null], { k0: 1, k1: "x" }, new Float64Array([1, -2]), new Int32Array(0)];
const SIZES = [1, 2, 3];

/** A transport whose sends never complete and that records what it was asked to send. */
class StuckTransport implements Transport {
  readonly sent: OutboundEnvelope[] = [];
  constructor(
    readonly rank: number,
    readonly size: number,
  ) {}
  send(_dest: number, env: OutboundEnvelope): Promise<void> {
    this.sent.push(env);
    return new Promise(() => {});
  }
  onMessage(): void {}
  onFailure(): void {}
  stats(): TransportStats {
    return emptyStats();
  }
  async close(): Promise<void> {}
}

function stuckWorld(): { comm: Communicator; transport: StuckTransport } {
  const transport = new StuckTransport(0, 2);
  const engine = new Engine(transport, { timeoutMs: 60_000, eagerLimit: 64 * 1024 });
  return { comm: new Communicator(engine, engine.register(0, [0, 1], "world")), transport };
}

describe("bad input is a UsageError thrown before anything is sent", () => {
  const { comm: c, transport } = stuckWorld();
  const cases: [string, () => unknown][] = [
    ["send options null", () => c.send(1, 1, null as never)],
    ["send options a number", () => c.send(1, 1, 5 as never)],
    ["send options an array", () => c.send(1, 1, [] as never)],
    ["send unknown option", () => c.send(1, 1, { dest: 0 } as never)],
    ["send timeoutMs NaN", () => c.send(1, 1, { timeoutMs: NaN })],
    ["send timeoutMs string", () => c.send(1, 1, { timeoutMs: "abc" as never })],
    ["send timeoutMs 0", () => c.send(1, 1, { timeoutMs: 0 })],
    ["send timeoutMs negative", () => c.send(1, 1, { timeoutMs: -5 })],
    ["send timeoutMs Infinity", () => c.send(1, 1, { timeoutMs: Infinity })],
    ["send tag string", () => c.send(1, 1, { tag: "1" as never })],
    ["send tag ANY_TAG", () => c.send(1, 1, { tag: ANY_TAG })],
    ["send dest ANY_SOURCE", () => c.send(1, ANY_SOURCE)],
    ["send dest string", () => c.send(1, "1" as never)],
    ["send dest null", () => c.send(1, null as never)],
    ["isend options null", () => c.isend(1, 1, null as never)],
    ["ssend options null", () => c.ssend(1, 1, null as never)],
    ["issend bad tag", () => c.issend(1, 1, { tag: -3 })],
    ["recv options null", () => c.recv(null as never)],
    ["recv timeoutMs NaN", () => c.recv({ timeoutMs: NaN })],
    ["recv timeoutMs string", () => c.recv({ timeoutMs: "abc" as never })],
    ["recv out string", () => c.recv({ out: "abc" as never })],
    ["recv out plain array", () => c.recv({ out: [1, 2] as never })],
    ["recv out ArrayBuffer", () => c.recv({ out: new ArrayBuffer(8) as never })],
    ["recv misspelt source", () => c.recv({ src: 1 } as never)],
    ["recv source 1.5", () => c.recv({ source: 1.5 })],
    ["recv source string", () => c.recv({ source: "0" as never })],
    ["recvWithStatus timeoutMs null", () => c.recvWithStatus({ timeoutMs: null as never })],
    ["irecv out number", () => c.irecv({ out: 3 as never })],
    ["irecvWithStatus tag 2**31", () => c.irecvWithStatus({ tag: 2 ** 31 })],
    ["probe out given", () => c.probe({ out: new Float64Array(1) } as never)],
    ["probe timeoutMs NaN", () => c.probe({ timeoutMs: NaN })],
    ["iprobe timeoutMs (never waits)", () => c.iprobe({ timeoutMs: 5 } as never)],
    ["iprobe options null", () => c.iprobe(null as never)],
    ["sendrecv bad source", () => c.sendrecv(1, 1, { source: 9 })],
    ["sendrecv bad recv timeout", () => c.sendrecv(1, 1, { timeoutMs: NaN })],
    ["sendrecv bad sendTag", () => c.sendrecv(1, 1, { sendTag: -1 })],
    ["sendrecv bad out", () => c.sendrecv(1, 1, { out: "x" as never })],
    ["sendrecv bad dest", () => c.sendrecv(1, 7)],
    ["sendrecv function", () => c.sendrecv(() => 1, 1)],
    ["sendrecvReplace plain value", () => c.sendrecvReplace({ a: 1 } as never, 1)],
    ["sendrecvReplace out given", () => c.sendrecvReplace(new Float64Array(1), 1, { out: new Float64Array(1) } as never)],
    ["send nested function", () => c.send({ f: () => 1 }, 1)],
    ["send nested symbol", () => c.send([Symbol("s")], 1)],
    ["send to PROC_NULL a function", () => c.send(() => 1, PROC_NULL)],
  ];
  for (const [name, call] of cases) {
    it(name, () => {
      const before = transport.sent.length;
      expect(call).toThrow(UsageError);
      expect(transport.sent.length, "nothing was sent").toBe(before);
    });
  }

  it("names the communicator, the operation and the bad value", () => {
    expect(() => c.recv({ timeoutMs: NaN })).toThrow(/recv on world: timeoutMs NaN is invalid/);
    expect(() => c.send(1, 1, null as never)).toThrow(/send on world: options must be an object.*got null/);
    expect(() => c.recv({ src: 1 } as never)).toThrow(/unknown option "src": recv takes source, tag, out, timeoutMs/);
    expect(() => c.recv({ out: "abc" as never })).toThrow(/out must be a typed array or Buffer to receive into, got "abc"/);
  });

  it("undefined options and undefined fields mean the defaults", () => {
    expect(() => c.send(1, 1, undefined)).not.toThrow();
    expect(() => c.send(1, 1, { tag: undefined, timeoutMs: undefined })).not.toThrow();
    expect(() => c.iprobe({ source: undefined, tag: undefined })).not.toThrow();
  });
});

describe("deadlines", () => {
  it("send's timeoutMs bounds a send that does not complete (it was ignored)", async () => {
    const { comm } = stuckWorld();
    const t0 = performance.now();
    const err = await comm.send(new Float64Array(100_000), 1, { tag: 3, timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).message).toMatch(/send on world: rank 1 has not taken the 800000-byte array .* within 0.1 s/);
    expect((err as TimeoutError).ranks).toEqual([1]);
    expect(performance.now() - t0).toBeLessThan(5_000);
    await expect(comm.isend(new Int8Array(70_000), 1, { timeoutMs: 50 }).wait()).rejects.toThrow(/isend on world: rank 1 has not taken the 70000-byte array/);
    await expect(comm.ssend("small", 1, { timeoutMs: 50 })).rejects.toThrow(/ssend on world: rank 1 has not received the message within/);
  });
});

describe("PROC_NULL (the null process)", () => {
  it("send/recv/sendrecv/probe to and from it complete at once", () =>
    onEveryComm(SIZES, async (c) => {
      for (const smess of messages) {
        await c.send(smess, PROC_NULL);
        await c.ssend(smess, PROC_NULL, { tag: 3 });
        expect(await c.recv({ source: PROC_NULL, tag: 0 })).toBeUndefined();
        const sreq = c.isend(smess, PROC_NULL);
        expect(sreq.test()).toEqual({ done: true, value: undefined });
        expect(sreq.active).toBe(false);
        const ssreq = c.issend(smess, PROC_NULL);
        expect(ssreq.test().done).toBe(true);
        const rreq = c.irecv({ source: PROC_NULL });
        expect(rreq.test()).toEqual({ done: true, value: undefined });
        expect(await c.sendrecv(smess, PROC_NULL, { source: PROC_NULL })).toBeUndefined();
      }
      expect(await c.recvWithStatus({ source: PROC_NULL, tag: 5 })).toEqual({ data: undefined, source: PROC_NULL, tag: ANY_TAG, count: 0 });
      expect(c.irecvWithStatus({ source: PROC_NULL }).test()).toEqual({ done: true, value: { data: undefined, source: PROC_NULL, tag: ANY_TAG, count: 0 } });
      expect(await c.probe({ source: PROC_NULL })).toEqual({ source: PROC_NULL, tag: ANY_TAG, count: 0 });
      expect(c.iprobe({ source: PROC_NULL })).toEqual({ source: PROC_NULL, tag: ANY_TAG, count: 0 });
      const out = new Float64Array([7, 8]);
      expect(await c.recv({ source: PROC_NULL, out })).toBeUndefined();
      expect(Array.from(out)).toEqual([7, 8]);
    }));

  it("one side of a sendrecv may be PROC_NULL (a non-periodic shift)", () =>
    onEveryComm(SIZES, async (c) => {
      const right = c.rank + 1 < c.size ? c.rank + 1 : PROC_NULL;
      const left = c.rank > 0 ? c.rank - 1 : PROC_NULL;
      const got = await c.sendrecv<number>(c.rank, right, { source: left });
      expect(got).toBe(left === PROC_NULL ? undefined : left);
    }));
});

describe("sendrecv and sendrecvReplace (test_p2p_buf.py testSendrecv, testSendrecvReplace)", () => {
  it("round a ring, every message", () =>
    onEveryComm(SIZES, async (c) => {
      const dest = (c.rank + 1) % c.size;
      const source = (c.rank - 1 + c.size) % c.size;
      for (const smess of messages) expect(await c.sendrecv(smess, dest, { source, tag: 0 })).toEqual(smess);
    }));

  it("test_p2p_buf testSendrecv: into an out one longer than the message, every typed array; the rest untouched", () =>
    onEveryComm(SIZES, async (c) => {
      const dest = (c.rank + 1) % c.size;
      const source = (c.rank - 1 + c.size) % c.size;
      const ctors = [Float64Array, Float32Array, Int32Array, Int16Array, Int8Array, Uint32Array, Uint16Array, Uint8Array];
      for (const Ctor of ctors) {
        for (let s = 0; s <= c.size; s++) {
          const sbuf = new Ctor(s).fill(s);
          const rbuf = new Ctor(s + 1).fill(Ctor === Uint8Array || Ctor === Uint16Array || Ctor === Uint32Array ? 99 : -1);
          const last = rbuf[s];
          const got = (await c.sendrecv(sbuf, dest, { source, out: rbuf })) as InstanceType<typeof Ctor>;
          expect(got.buffer).toBe(rbuf.buffer);
          expect(got.length).toBe(s);
          for (let i = 0; i < s; i++) expect(rbuf[i]).toBe(s);
          expect(rbuf[s]).toBe(last);
        }
      }
    }));

  it("test_p2p_buf testIProbe: nothing pending on a fresh dup", () =>
    onEveryComm(SIZES, async (c) => {
      const d = await c.dup();
      expect(d.iprobe()).toBeNull();
      expect(d.iprobe({ source: ANY_SOURCE })).toBeNull();
      expect(d.iprobe({ source: ANY_SOURCE, tag: ANY_TAG })).toBeNull();
      await d.barrier();
      d.free();
    }));

  it("replaces the buffer with the neighbour's, small and above the eager limit, every typed array", () =>
    onEveryComm(SIZES, async (c) => {
      const dest = (c.rank + 1) % c.size;
      const source = (c.rank - 1 + c.size) % c.size;
      for (const n of [0, 1, 5, 20_000]) {
        for (const make of [(k: number) => new Float64Array(k), (k: number) => new Int16Array(k), (k: number) => Buffer.alloc(k)]) {
          const buf = make(n);
          for (let i = 0; i < n; i++) buf[i] = (c.rank * 7 + i) % 100;
          const got = await c.sendrecvReplace(buf, dest, { source, sendTag: 4, tag: 4 });
          expect(got).toBe(buf);
          for (let i = 0; i < n; i++) if (buf[i] !== (source * 7 + i) % 100) throw new Error(`element ${i} of ${n}: ${buf[i]}`);
        }
      }
    }));

  it("a shorter message fills the front (a view of it is returned); PROC_NULL leaves the buffer", async () => {
    const [a, b] = memoryWorld(2);
    const buf = new Int32Array([9, 9, 9, 9]);
    const [got] = await Promise.all([a!.sendrecvReplace(buf, 1, { source: 1 }), b!.sendrecv(Int32Array.from([1, 2]), 0, { source: 0 })]);
    expect(Array.from(got)).toEqual([1, 2]);
    expect(got.buffer).toBe(buf.buffer);
    expect(Array.from(buf)).toEqual([1, 2, 9, 9]);
    const same = await a!.sendrecvReplace(buf, PROC_NULL, { source: PROC_NULL });
    expect(same).toBe(buf);
  });

  it("a message of another type or too long rejects with a UsageError", async () => {
    const [a, b] = memoryWorld(2);
    const p = a!.sendrecvReplace(new Float64Array(2), 1, { source: 1 });
    await b!.sendrecv(new Float32Array(2), 0, { source: 0 });
    await expect(p).rejects.toThrow(/float32/);
    const q = a!.sendrecvReplace(new Float64Array(2), 1, { source: 1 });
    await b!.sendrecv(new Float64Array(3), 0, { source: 0 });
    await expect(q).rejects.toThrow(/has 2 elements but the message holds 3/);
  });
});

describe("ssend / issend: complete only when a receive has taken the message", () => {
  it("testSSendAndRecv: down a chain, every message", () =>
    onEveryComm(SIZES, async (c) => {
      for (const smess of messages) {
        let rmess: unknown = smess;
        if (c.size > 1) {
          if (c.rank === 0) await c.ssend(smess, 1, { tag: 0 });
          else {
            rmess = await c.recv({ source: c.rank - 1, tag: 0 });
            if (c.rank < c.size - 1) await c.ssend(rmess, c.rank + 1, { tag: 0 });
          }
        }
        expect(rmess).toEqual(smess);
      }
    }));

  it("testISSendAndRecv / testProbe: not complete before the receive, nor after a probe", () =>
    onEveryComm(SIZES, async (c) => {
      for (const smess of messages) {
        const req = c.issend(smess, c.rank, { tag: 123 });
        for (let i = 0; i < 5; i++) await tick();
        expect(req.test().done).toBe(false);
        expect(c.iprobe({ source: ANY_SOURCE, tag: ANY_TAG })).toEqual({ source: c.rank, tag: 123, count: expect.any(Number) });
        await c.probe({ source: ANY_SOURCE, tag: ANY_TAG });
        for (let i = 0; i < 5; i++) await tick();
        expect(req.test().done).toBe(false);
        expect(req.active).toBe(true);
        expect(await c.recv({ source: c.rank, tag: 123 })).toEqual(smess);
        expect(await req.wait()).toBeUndefined();
        expect(req.active).toBe(false);
      }
    }));

  it("testIRecvAndSSend / testIRecvAndISSend: receives posted first, sends in reverse tag order", () =>
    onEveryComm(SIZES, async (c) => {
      for (const smess of messages) {
        const r = [1, 2, 3].map((tag) => c.irecv({ source: c.rank, tag }));
        await c.ssend(smess, c.rank, { tag: 3 });
        await c.ssend(smess, c.rank, { tag: 2 });
        await waitAll([c.issend(smess, c.rank, { tag: 1 })]);
        expect(await waitAll(r)).toEqual([smess, smess, smess]);
      }
    }));

  it("the sender waits for the receive on another rank, matched out of order and by ANY_SOURCE", async () => {
    const [a, b] = memoryWorld(2);
    const first = a!.issend("one", 1, { tag: 1 });
    const second = a!.issend("two", 1, { tag: 2 });
    const plain = a!.isend("three", 1, { tag: 3 });
    expect(await b!.recv({ source: 0, tag: 2 })).toBe("two");
    await second.wait();
    await plain.wait();
    for (let i = 0; i < 5; i++) await tick();
    expect(first.test().done).toBe(false);
    expect(await b!.recv({ source: ANY_SOURCE, tag: ANY_TAG })).toBe("one");
    await first.wait();
    expect(await b!.recv({ source: 0 })).toBe("three");
  });

  it("a synchronous send nobody receives times out, naming the receiver", async () => {
    const [a] = memoryWorld(2);
    const err = await a!.ssend({ x: 1 }, 1, { tag: 9, timeoutMs: 80 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/ssend on world: rank 1 has not received the message within 0.1 s/);
  });

  it("on split communicators, each keeps its own receipts", async () => {
    const w = memoryWorld(4);
    const halves = (await Promise.all(w.map((c) => c.split(c.rank % 2))))!;
    const dups = await Promise.all(w.map((c) => c.dup()));
    await Promise.all(
      w.map(async (c) => {
        const h = halves[c.rank]!;
        const d = dups[c.rank]!;
        const peer = 1 - h.rank;
        const reqs = [h.issend(`h${c.rank}`, peer), d.issend(`d${c.rank}`, (c.rank + 1) % 4), h.issend(`h2-${c.rank}`, peer, { tag: 1 })];
        expect(await h.recv({ source: peer, tag: 1 })).toBe(`h2-${h.group[peer]}`);
        expect(await d.recv({ source: (c.rank + 3) % 4 })).toBe(`d${(c.rank + 3) % 4}`);
        expect(await h.recv({ source: peer, tag: 0 })).toBe(`h${h.group[peer]}`);
        await waitAll(reqs);
      }),
    );
  });
});

describe("Communicator.free()", () => {
  it("releases the context: dup() + free() many times leaves the engine as it was", async () => {
    const w = memoryWorld(3);
    const before = w[0]!.engine.contextCount;
    for (let i = 0; i < 20; i++) {
      const d = await Promise.all(w.map((c) => c.dup("farm")));
      await Promise.all(d.map((c) => c.allreduce(1, Op.SUM)));
      for (const c of d) c.free();
    }
    expect(w.map((c) => c.engine.contextCount)).toEqual([before, before, before]);
  });

  it("every later operation is a UsageError naming the communicator", async () => {
    const w = memoryWorld(2);
    const d = await Promise.all(w.map((c) => c.dup("scratch")));
    const c = d[0]!;
    c.free();
    expect(c.freed).toBe(true);
    c.free(); // harmless
    for (const call of [
      () => c.send(1, 1),
      () => c.ssend(1, 1),
      () => c.recv(),
      () => c.isend(1, 1),
      () => c.irecv(),
      () => c.probe(),
      () => c.iprobe(),
      () => c.sendrecv(1, 1),
      () => c.send(1, PROC_NULL),
      () => c.recv({ source: PROC_NULL }),
    ]) {
      expect(call).toThrow(/on scratch: this communicator has been freed/);
    }
    expect(() => c.allreduce(1, Op.SUM)).toThrow(UsageError);
    d[1]!.free();
  });

  it("pending receives reject; messages that arrive later are dropped and counted, not kept", async () => {
    const w = memoryWorld(2);
    const d = await Promise.all(w.map((c) => c.dup("scratch")));
    const pending = d[0]!.recv({ source: 1, tag: 5 });
    await d[1]!.send("unread", 0, { tag: 6 });
    await tick();
    d[0]!.free();
    await expect(pending).rejects.toThrow(/recv on scratch: the communicator was freed while this operation was pending/);
    const dropped = w[0]!.engine.dropped;
    await d[1]!.send("late", 0, { tag: 5 });
    await tick();
    expect(w[0]!.engine.dropped).toBe(dropped + 1);
  });

  it("collectives on a freed communicator are refused at the call, a 1-rank one included", async () => {
    for (const size of [1, 2]) {
      const w = memoryWorld(size);
      const d = await Promise.all(w.map((c) => c.dup("scratch")));
      const c = d[0]!;
      c.free();
      for (const call of [() => c.allreduce(1, Op.SUM), () => c.barrier(), () => c.bcast(1, 0), () => c.allgather(1), () => c.iallreduce(1, Op.SUM)]) {
        expect(call).toThrow(/on scratch: this communicator has been freed/);
      }
      for (const other of d.slice(1)) other.free();
    }
  });

  it("the world cannot be freed", () => {
    const [c] = memoryWorld(1);
    expect(() => c!.free()).toThrow(/free on world: the world communicator cannot be freed/);
  });
});
