// Requests as MPI has them: a completion is reported once, then the request is inactive; the array
// forms (waitAll/testAll, waitAny/testAny, waitSome/testSome) skip inactive requests and say
// UNDEFINED / null when none is active. Cases ported from mpi4py's test/test_request.py and
// test/test_p2p_obj.py (testIRecvAndSend, testIRecvAndISend, testManyISSendAndRecv,
// testWaitSomeRecv, testTestSomeRecv, testWaitSomeSend, testTestSomeSend), run over the world, a
// dup, a self communicator and a reversed split, on the in-memory transport.
import { describe, expect, it } from "vitest";
import { Request, testAll, testAny, testSome, TimeoutError, UNDEFINED, waitAll, waitAny, waitSome, type Communicator } from "../../src/index.js";
import { onEveryComm } from "../helpers/p2p-comms.js";

const tick = () => new Promise<void>((r) => setImmediate(r));
/**
 * Polls `f` until it gives a truthy value, for at most 5 s (bounded: a bug fails, never hangs).
 * Bounded by time, not by a count of event-loop turns: a condition that waits on a 20 ms timer
 * must not lose to 10,000 turns that a quiet machine runs in less than 20 ms.
 */
async function until<T>(f: () => T): Promise<T> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const v = f();
    if (v) return v;
    await tick();
  }
  throw new Error("condition never became true within 5 s");
}
const messages: unknown[] = [null, true, -7, 0, 2.5, "mpi4py", [1, "two"], { k0: 1, k1: [null] }];
const SIZES = [1, 2, 3];

describe("requests on empty and inactive arrays (test_request.py TestRequestArray)", () => {
  it("every array form on [] says there is nothing active", async () => {
    expect(await waitAll([])).toEqual([]);
    expect(testAll([])).toEqual({ done: true, value: [] });
    expect(await waitAny([])).toEqual({ index: UNDEFINED, value: undefined });
    expect(testAny([])).toEqual({ done: true, index: UNDEFINED, value: undefined });
    expect(await waitSome([])).toBeNull();
    expect(testSome([])).toBeNull();
  });

  it("completed requests: done at once, inactive once reported", async () => {
    const r = Request.completed(5);
    expect(r.active).toBe(true);
    expect(r.test()).toEqual({ done: true, value: 5 });
    expect(r.active).toBe(false);
    expect(await r.wait()).toBe(5); // an inactive request still remembers its outcome
    const reqs = [Request.completed("a"), Request.completed("b")];
    expect(await waitSome(reqs)).toEqual({ indices: [0, 1], values: ["a", "b"] });
    expect(await waitSome(reqs)).toBeNull();
    expect(await waitAny(reqs)).toEqual({ index: UNDEFINED, value: undefined });
    expect(await waitAll(reqs)).toEqual(["a", "b"]);
  });
});

describe("waitAny / testAny (test_p2p_obj.py testIRecvAndSend)", () => {
  it("reports each completion once, then UNDEFINED", () =>
    onEveryComm(SIZES, async (c: Communicator) => {
      for (const smess of messages) {
        const rreqs = [1, 2, 3].map((tag) => c.irecv({ source: c.rank, tag }));
        for (let i = 0; i < rreqs.length; i++) {
          expect(rreqs[i]!.active).toBe(true);
          await c.send(smess, c.rank, { tag: i + 1 });
          const { index, value } = await waitAny(rreqs);
          expect(index).toBe(i);
          expect(value).toEqual(smess);
          expect(rreqs[index]!.active).toBe(false);
        }
        expect(await waitAny(rreqs)).toEqual({ index: UNDEFINED, value: undefined });
      }
    }));

  it("testAny: not done while none has completed, UNDEFINED once all are inactive", () =>
    onEveryComm(SIZES, async (c) => {
      for (const smess of messages) {
        const rreqs = [1, 2, 3].map((tag) => c.irecv({ source: c.rank, tag }));
        expect(testAny(rreqs)).toEqual({ done: false });
        for (let i = 0; i < rreqs.length; i++) {
          await c.send(smess, c.rank, { tag: i + 1 });
          const r = await until(() => {
            const t = testAny(rreqs);
            return t.done ? t : null;
          });
          expect(r).toEqual({ done: true, index: i, value: smess });
          expect(rreqs[i]!.active).toBe(false);
        }
        expect(testAny(rreqs)).toEqual({ done: true, index: UNDEFINED, value: undefined });
      }
    }));

  it("a completed request is not reported twice (the old waitAny gave the same one again)", () =>
    onEveryComm([2], async (c) => {
      const reqs = [c.irecv({ source: c.rank, tag: 1 }), c.irecv({ source: c.rank, tag: 2 })];
      await c.send("second", c.rank, { tag: 2 });
      expect(await waitAny(reqs)).toEqual({ index: 1, value: "second" });
      const next = waitAny(reqs);
      let settled = false;
      void next.then(() => (settled = true));
      for (let i = 0; i < 20; i++) await tick();
      expect(settled).toBe(false);
      await c.send("first", c.rank, { tag: 1 });
      expect(await next).toEqual({ index: 0, value: "first" });
    }));

  it("isend and irecv in one array (testIRecvAndISend): two distinct completions", () =>
    onEveryComm(SIZES, async (c) => {
      const dst = (c.rank + 1) % c.size;
      const src = (c.rank - 1 + c.size) % c.size;
      for (const smess of messages) {
        const rreq = c.irecv({ source: src, tag: 0 });
        const sreq = c.isend(smess, dst, { tag: 0 });
        const first = await waitAny<unknown>([sreq, rreq]);
        const second = await waitAny<unknown>([sreq, rreq]);
        expect(new Set([first.index, second.index])).toEqual(new Set([0, 1]));
        expect(sreq.active || rreq.active).toBe(false);
        expect((first.index === 1 ? first : second).value).toEqual(smess);
      }
    }));
});

describe("waitAll / testAll", () => {
  it("testAll is all or nothing; waitAll gives every value in order", () =>
    onEveryComm(SIZES, async (c) => {
      for (const smess of messages) {
        const rreq = c.irecv({ source: c.rank, tag: 1 });
        expect(testAll([rreq])).toEqual({ done: false });
        expect(rreq.active).toBe(true);
        const sreq = c.isend(smess, c.rank, { tag: 1 });
        const r = await until(() => {
          const t = testAll<unknown>([sreq, rreq]);
          return t.done ? t : null;
        });
        expect(r).toEqual({ done: true, value: [undefined, smess] });
        expect(sreq.active || rreq.active).toBe(false);
        const dst = (c.rank + 1) % c.size;
        const src = (c.rank - 1 + c.size) % c.size;
        const got = await waitAll<unknown>([c.isend(smess, dst), c.irecv({ source: src })]);
        expect(got).toEqual([undefined, smess]);
      }
    }));

  it("waitAll rejects with a failure as soon as it happens", async () => {
    const [c] = await import("../helpers/p2p-comms.js").then((m) => m.commsOf("world", 1));
    const never = c!.irecv({ source: 0, tag: 77 });
    const fails = c!.irecv({ source: 0, tag: 78, timeoutMs: 30 });
    await expect(waitAll([never, fails])).rejects.toBeInstanceOf(TimeoutError);
    expect(fails.active).toBe(false);
    expect(never.active).toBe(true);
    await c!.send(1, 0, { tag: 77 });
    expect(await never.wait()).toBe(1);
  });
});

describe("waitSome / testSome (testWaitSomeRecv, testTestSomeRecv, testWaitSomeSend, testTestSomeSend)", () => {
  it("receives: each batch reported once, then null", () =>
    onEveryComm(SIZES, async (c) => {
      const reqs = [0, 1, 2, 3, 4, 5].map((tag) => c.irecv<string>({ source: c.rank, tag }));
      for (const list of [[5], [3, 1, 2], [0, 4]]) {
        for (const i of list) await c.ssend("abc", c.rank, { tag: i });
        const got = (await waitSome(reqs))!;
        expect([...got.indices].sort()).toEqual([...list].sort());
        expect(got.values).toEqual(list.map(() => "abc"));
        expect(got.indices.some((i) => reqs[i]!.active)).toBe(false);
      }
      expect(await waitSome(reqs)).toBeNull();
      expect(reqs.some((r) => r.active)).toBe(false);
    }));

  it("testSome on receives: [] while nothing new has completed", () =>
    onEveryComm(SIZES, async (c) => {
      const reqs = [0, 1, 2, 3, 4, 5].map((tag) => c.irecv<string>({ source: c.rank, tag }));
      expect(testSome(reqs)).toEqual({ indices: [], values: [] });
      expect(reqs.every((r) => r.active)).toBe(true);
      for (const list of [[5], [], [3, 1, 2], [], [0, 4]]) {
        for (const i of list) await c.ssend("abc", c.rank, { tag: i });
        await tick();
        const got = testSome(reqs)!;
        expect([...got.indices].sort()).toEqual([...list].sort());
        expect(got.values).toEqual(list.map(() => "abc"));
      }
      expect(testSome(reqs)).toBeNull();
    }));

  it("synchronous sends: complete only as their receives take them", () =>
    onEveryComm(SIZES, async (c) => {
      const reqs = [0, 1, 2, 3, 4, 5].map((tag) => c.issend("abc", c.rank, { tag }));
      expect(testSome(reqs)).toEqual({ indices: [], values: [] });
      for (const list of [[5], [3, 1, 2], [0, 4]]) {
        for (const i of list) expect(await c.recv({ source: c.rank, tag: i })).toBe("abc");
        const seen: number[] = [];
        while (seen.length < list.length) {
          const s = (await waitSome(reqs))!;
          seen.push(...s.indices);
          expect(s.values).toEqual(s.indices.map(() => undefined));
        }
        expect(seen.sort()).toEqual([...list].sort());
        expect(testSome(reqs)?.indices ?? []).toEqual([]);
      }
      expect(await waitSome(reqs)).toBeNull();
    }));

  it("testManyISSendAndRecv: six synchronous sends to self, three received at a time", () =>
    onEveryComm(SIZES, async (c) => {
      for (const smess of messages) {
        const reqs = Array.from({ length: 6 }, () => c.issend(smess, c.rank, { tag: 0 }));
        await tick();
        expect(testAll(reqs).done).toBe(false);
        for (let k = 0; k < 3; k++) expect(await c.recv({ source: c.rank, tag: 0 })).toEqual(smess);
        await until(() => reqs[2]!.completed);
        expect(testAll(reqs).done).toBe(false);
        const any = testAny(reqs);
        expect(any).toEqual({ done: true, index: 0, value: undefined });
        expect(testSome(reqs)).toEqual({ indices: [1, 2], values: [undefined, undefined] });
        for (let k = 0; k < 3; k++) {
          expect(testAll(reqs).done).toBe(false);
          expect(await c.recv({ source: c.rank, tag: 0 })).toEqual(smess);
        }
        await until(() => testAll(reqs).done);
      }
    }));

  it("a failure is reported alone; the successes beside it come next", () =>
    onEveryComm([1], async (c) => {
      const fresh = [c.irecv({ source: c.rank, tag: 3 }), c.irecv({ source: c.rank, tag: 4, timeoutMs: 20 })];
      await c.send("three", c.rank, { tag: 3 });
      await until(() => fresh[0]!.completed && fresh[1]!.completed);
      expect(() => testSome(fresh)).toThrow(TimeoutError);
      expect(fresh[0]!.active).toBe(true);
      expect(testSome(fresh)).toEqual({ indices: [0], values: ["three"] });
      expect(testSome(fresh)).toBeNull();
    }));
});
