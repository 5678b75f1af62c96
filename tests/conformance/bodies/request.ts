/**
 * Requests, per CONTRACTS C2 and mpi4py's test_request / test_p2p_obj: waitAny/testAny give MPI's
 * "undefined index" when no request is active (also for []), a request whose completion was
 * returned becomes inactive and is skipped by the *Any/*Some forms, testAll, waitSome/testSome
 * give exactly the completions of a batch, and waitAll works on mixed sends and receives.
 */
import { testAll, testAny, testSome, UNDEFINED, waitAll, waitAny, waitSome, type Communicator, type Request } from "../../../src/index.js";
import type { Check } from "../check.js";
import { MESSAGES } from "../data.js";
import type { Ctx, Group } from "../plan.js";
import { range } from "../plan.js";

const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));
const msg = MESSAGES[MESSAGES.length - 1];

/** `req` must be inactive: its completion was returned (C2). */
function expectInactive(t: Check, req: Request<unknown>, what: string): void {
  t.ok(!req.active, `${what}: still active (C2: a request whose completion was returned is inactive)`);
}

/** Polls `f` (with short sleeps) until it gives a truthy value or `ms` pass. */
async function until<T>(f: () => T, ms = 5000): Promise<T> {
  const t0 = performance.now();
  let v = f();
  while (!v && performance.now() - t0 < ms) {
    await sleep(2);
    v = f();
  }
  return v;
}

async function anyForms(x: Ctx, c: Communicator): Promise<void> {
  const r = c.rank;
  const p = c.size;
  await x.run("waitAny([]) gives index UNDEFINED (C2)", async (t) => {
    // Local: a rejection here leaves nothing behind, so it is recorded, not thrown.
    const got = await waitAny([]).catch((e: Error) => ({ index: `rejected with ${e.name}: ${e.message}` }));
    t.equal(got.index, UNDEFINED, "index");
  });
  await x.run("irecv tags 1..3 from self; each send completes exactly that one; then UNDEFINED (waitAny, C2)", async (t) => {
    const reqs = [1, 2, 3].map((tag) => c.irecv({ source: r, tag: 400 + tag }));
    for (const i of [0, 1, 2]) {
      await c.send(msg, r, { tag: 401 + i });
      const got = await waitAny(reqs);
      t.equal([got.index, got.value], [i, msg], `after send #${i + 1}: [index, value]`);
      expectInactive(t, reqs[i]!, `request ${i} after waitAny returned it`);
    }
    const done = await waitAny(reqs);
    t.equal([done.index, done.value], [UNDEFINED, undefined], "waitAny with no active request: [index, value]");
  });
  await x.run("testAny: not done before any send, each completion once, then (true, UNDEFINED) (C2)", async (t) => {
    const reqs = [1, 2, 3].map((tag) => c.irecv({ source: r, tag: 410 + tag }));
    t.equal(testAny(reqs), { done: false }, "before any send");
    for (const i of [0, 1, 2]) {
      await c.send(msg, r, { tag: 411 + i });
      const got = await until(() => {
        const o = testAny(reqs);
        return o.done ? o : null;
      });
      t.equal(got && [got.index, got.value], [i, msg], `after send #${i + 1}: [index, value]`);
    }
    t.equal(testAny(reqs), { done: true, index: UNDEFINED, value: undefined }, "with no active request");
  });
  await x.run("waitAny twice over [isend, irecv] around the ring gives both, once each (testIRecvAndISend)", async (t) => {
    const rreq = c.irecv({ source: (r - 1 + p) % p, tag: 420 });
    const sreq: Request<unknown> = c.isend(msg, (r + 1) % p, { tag: 420 });
    const a = await waitAny([sreq, rreq]);
    const b = await waitAny([sreq, rreq]);
    t.equal([a.index, b.index].sort(), [0, 1], "indices of the two waitAny");
    t.equal((a.index === 1 ? a : b).value, msg, "the received value");
    expectInactive(t, sreq, "the isend");
    expectInactive(t, rreq, "the irecv");
  });
}

async function allAndSome(x: Ctx, c: Communicator): Promise<void> {
  const r = c.rank;
  const p = c.size;
  await x.run("testAll: false while a receive is pending, then every value in order (testIRecvAndISend)", async (t) => {
    const rreq = c.irecv({ source: r, tag: 430 });
    t.equal(testAll([rreq]), { done: false }, "testAll before the send");
    const sreq = c.isend(msg, r, { tag: 430 });
    const got = await until(() => {
      const o = testAll<unknown>([sreq, rreq]);
      return o.done ? o : null;
    });
    t.equal(got?.value, [undefined, msg], "testAll's values");
    t.equal(testAll([]), { done: true, value: [] }, "testAll([])");
  });
  await x.run("waitAll over sends and receives around the ring; waitAll([])", async (t) => {
    const reqs = range(3).flatMap((i) => [c.isend([r, i], (r + 1) % p, { tag: 440 + i }), c.irecv({ source: (r - 1 + p) % p, tag: 440 + i })]);
    const vals = await waitAll<unknown>(reqs);
    t.equal(
      range(3).map((i) => vals[2 * i + 1]),
      range(3).map((i) => [(r - 1 + p) % p, i]),
      "received values",
    );
    t.equal(await waitAll([]), [], "waitAll([])");
  });
  for (const form of ["waitSome", "testSome"] as const) {
    await x.run(`${form}: six irecv from self, batches [5] [] [3,1,2] [] [0,4]: exactly each batch, then none active (testWaitSomeRecv, C2)`, async (t) => {
      const some = (q: readonly Request<unknown>[]) => (form === "waitSome" ? waitSome(q) : Promise.resolve(testSome(q)));
      const reqs = range(6).map((i) => c.irecv({ source: r, tag: 450 + i }));
      // (waitSome now would wait for a send that comes after it.)
      if (form === "testSome") {
        const first = await some(reqs);
        t.equal(first, { indices: [], values: [] }, "testSome before any send");
      }
      for (const batch of form === "waitSome" ? [[5], [3, 1, 2], [0, 4]] : [[5], [], [3, 1, 2], [], [0, 4]]) {
        for (const i of batch) await c.send(`m${i}`, r, { tag: 450 + i });
        const seen: number[] = [];
        const values: unknown[] = [];
        const t0 = performance.now();
        while (seen.length < batch.length && performance.now() - t0 < 5000) {
          const got = await some(reqs);
          seen.push(...(got?.indices ?? []));
          values.push(...(got?.values ?? []));
          if (seen.length < batch.length) await sleep(2);
        }
        t.equal(seen.slice().sort(), batch.slice().sort(), `batch [${batch}]: indices`);
        t.equal(values.slice().sort(), batch.map((i) => `m${i}`).sort(), `batch [${batch}]: values`);
      }
      const none = await some(reqs);
      t.equal(none, null, `${form} with no active request (MPI's outcount UNDEFINED)`);
    });
  }
  await x.run("a request is inactive once wait() or test() returned its completion (C2)", async (t) => {
    const b = c.irecv({ source: r, tag: 460 });
    t.ok(b.active, "irecv active before completion");
    const a = c.isend(1, r, { tag: 460 });
    await a.wait();
    t.equal(await b.wait(), 1, "received");
    expectInactive(t, a, "isend after wait()");
    expectInactive(t, b, "irecv after wait()");
    const s = c.isend(2, r, { tag: 461 });
    const q = c.irecv({ source: r, tag: 461 });
    await until(() => q.test().done);
    await s.wait();
    expectInactive(t, q, "irecv after test() gave done");
  });
}

export const requestGroups: Group[] = [
  {
    name: "requests",
    from: "test_request (Waitany, Testany, Waitall, Testall, Waitsome, Testsome on inactive requests); test_p2p_obj (IRecvAndSend waitany/testany, IRecvAndISend, WaitSomeRecv, TestSomeRecv)",
    async body(x) {
      const c = await x.comm.dup();
      await anyForms(x, c);
      await allAndSome(x, c);
    },
  },
];
