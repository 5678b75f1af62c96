/**
 * Point-to-point, ported from mpi4py's test_p2p_obj and test_p2p_buf: send/recv chains, isend and
 * irecv to self and around a ring, sendrecv (and sendrecvReplace, C2), recv into `out`, statuses,
 * ANY_SOURCE/ANY_TAG, non-overtaking order (small and zero-copy messages mixed), selection by tag,
 * probe/iprobe, PROC_NULL for every call (C2), ssend/issend (C2: completes when matched), and the
 * bad input the issue lists (a UsageError before anything is sent). Every case runs on a `dup()`
 * of the communicator under test and uses tags of its own, so a failing case leaves nothing that
 * a later one could receive.
 */
import { ANY_SOURCE, ANY_TAG, PROC_NULL, UsageError, waitAll, waitSome, type Communicator } from "../../../src/index.js";
import { MESSAGES, MOVABLE, moveData, moveRef } from "../data.js";
import type { Ctx, Group } from "../plan.js";
import { range } from "../plan.js";
import { sentinel } from "./common.js";

const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

/** Messages of a depth: all of mpi4py's at "full", every third at "lite". */
const messages = (x: Ctx) => (x.depth === "full" ? MESSAGES : MESSAGES.filter((_, i) => i % 3 === 0));

async function objects(x: Ctx, c: Communicator): Promise<void> {
  const p = c.size;
  const r = c.rank;
  await x.run("send/recv chain 0 → 1 → … → size-1 of every message (testSendAndRecv)", async (t) => {
    for (const [i, msg] of messages(x).entries()) {
      let got: unknown = msg;
      if (p === 1) {
        await c.send(msg, 0, { tag: 10 });
        got = await c.recv({ source: 0, tag: 10 });
      } else if (r === 0) await c.send(msg, 1, { tag: 10 });
      else {
        got = await c.recv({ source: r - 1, tag: 10 });
        if (r < p - 1) await c.send(got, r + 1, { tag: 10 });
      }
      t.equal(got, msg, `message #${i}`);
    }
  });
  await x.run("isend to self, recv, wait (testISendAndRecv)", async (t) => {
    for (const [i, msg] of messages(x).entries()) {
      const req = c.isend(msg, r, { tag: 11 });
      t.equal(await c.recv({ source: r, tag: 11 }), msg, `message #${i}`);
      await req.wait();
    }
  });
  await x.run("isend around the ring, recv from the left (testISendAndRecv)", async (t) => {
    for (const [i, msg] of messages(x).entries()) {
      const req = c.isend(msg, (r + 1) % p, { tag: 12 });
      t.equal(await c.recv({ source: (r - 1 + p) % p, tag: 12 }), msg, `message #${i}`);
      await req.wait();
    }
  });
  await x.run("irecv from self: test() false before the send, then done (testIRecvAndSend)", async (t) => {
    for (const [i, msg] of messages(x).entries()) {
      const req = c.irecv({ source: r, tag: 13 });
      t.ok(!req.test().done, `message #${i}: irecv done before anything was sent`);
      await c.send(msg, r, { tag: 13 });
      t.equal(await req.wait(), msg, `message #${i}`);
    }
  });
  await x.run("sendrecv around the ring, and of null (testSendrecv)", async (t) => {
    for (const [i, msg] of [...messages(x), null].entries()) {
      const got = await c.sendrecv(msg, (r + 1) % p, { source: (r - 1 + p) % p, tag: 14, sendTag: 14 });
      t.equal(got, msg, `message #${i}`);
    }
  });
}

async function buffers(x: Ctx, c: Communicator): Promise<void> {
  const p = c.size;
  const r = c.rank;
  const eager = c.engine.config.eagerLimit;
  let k = 0;
  for (const d of MOVABLE) {
    // mpi4py's sizes 0..size, and one size on each side of the eager (zero-copy) limit.
    const sizes = [...range(p + 1), Math.floor(eager / d.bytes) - 1, Math.floor(eager / d.bytes) + 1];
    for (const s of x.some(sizes, k++)) {
      await x.run(`sendrecv ${d.name} n=${s} into out of n+1, with status (testSendrecv)`, async (t) => {
        const src = (r - 1 + p) % p;
        const out = sentinel(d, s + 1);
        const send = c.isend(moveData(d, s, r, s), (r + 1) % p, { tag: 20 });
        const got = await c.recvWithStatus({ source: src, tag: 20, out });
        await send.wait();
        t.typed(got.data, d.ctor, moveRef(d, s, src, s), "data");
        t.isOut(got.data, out, s, "data");
        t.untouched(out, s, d.big ? 77n : 77, "out");
        t.equal([got.source, got.tag, got.count], [src, 20, s], "status [source, tag, count]");
      });
      await x.run(`sendrecvReplace ${d.name} n=${s} around the ring (testSendrecvReplace, C2)`, async (t) => {
        const buf = moveData(d, s, r, s + 1);
        await c.sendrecvReplace(buf, (r + 1) % p, { source: (r - 1 + p) % p, tag: 21, sendTag: 21 });
        t.typed(buf, d.ctor, moveRef(d, s, (r - 1 + p) % p, s + 1), "buffer after sendrecvReplace");
      });
    }
  }
}

async function matching(x: Ctx, c: Communicator): Promise<void> {
  const p = c.size;
  const r = c.rank;
  await x.run("ANY_SOURCE/ANY_TAG: rank 0 receives one message from every rank, statuses name them", async (t) => {
    await c.barrier();
    const send = c.isend([r, "hello"], 0, { tag: 100 + r });
    if (r === 0) {
      const seen: number[] = [];
      for (let i = 0; i < p; i++) {
        const m = await c.recvWithStatus<[number, string]>({ source: ANY_SOURCE, tag: ANY_TAG });
        t.equal([m.tag, m.data], [100 + m.source, [m.source, "hello"]], `status and data of the message from ${m.source}`);
        seen.push(m.source);
      }
      t.equal(
        seen.sort((a, b) => a - b),
        range(p),
        "sources",
      );
    }
    await send.wait();
    // Wildcards match anything: nobody starts the next case (new traffic) before rank 0 is done.
    await c.barrier();
  });
  await x.run("non-overtaking: 30 messages of one tag, small and zero-copy mixed, arrive in order", async (t) => {
    const big = Math.floor(c.engine.config.eagerLimit / 8) + 3;
    const reqs = range(30).map((i) => c.isend(i % 4 === 1 ? Float64Array.of(i, ...new Array<number>(big).fill(i)) : Float64Array.of(i), (r + 1) % p, { tag: 200 }));
    const got: number[] = [];
    for (let i = 0; i < 30; i++) got.push((await c.recv<Float64Array>({ source: (r - 1 + p) % p, tag: 200 }))[0]!);
    await Promise.all(reqs.map((q) => q.wait()));
    t.equal(got, range(30), "order");
  });
  await x.run("selection by tag: tags 1,2,1,2,…; all of tag 2 received first, each tag in order", async (t) => {
    const reqs = range(10).map((i) => c.isend(i, (r + 1) % p, { tag: 300 + (i % 2) + 1 }));
    const two: unknown[] = [];
    const one: unknown[] = [];
    for (let i = 0; i < 5; i++) two.push(await c.recv({ source: (r - 1 + p) % p, tag: 302 }));
    for (let i = 0; i < 5; i++) one.push(await c.recv({ source: (r - 1 + p) % p, tag: 301 }));
    await Promise.all(reqs.map((q) => q.wait()));
    t.equal(
      [one, two],
      [
        [0, 2, 4, 6, 8],
        [1, 3, 5, 7, 9],
      ],
      "tag 1 and tag 2 messages",
    );
  });
  await x.run("probe and iprobe (testProbe, testIProbe)", async (t) => {
    await c.barrier();
    t.equal(c.iprobe({ source: ANY_SOURCE, tag: ANY_TAG }), null, "iprobe with nothing sent");
    for (const [i, msg] of messages(x).entries()) {
      const req = c.isend(msg, r, { tag: 123 });
      let st = c.iprobe({ source: ANY_SOURCE, tag: ANY_TAG });
      for (let n = 0; st === null && n < 400; n++) {
        await sleep(5);
        st = c.iprobe({ source: ANY_SOURCE, tag: ANY_TAG });
      }
      t.equal(st && [st.source, st.tag], [r, 123], `message #${i}: iprobe [source, tag]`);
      const pr = await c.probe({ source: ANY_SOURCE, tag: ANY_TAG });
      t.equal([pr.source, pr.tag, pr.count], [r, 123, st?.count], `message #${i}: probe [source, tag, count]`);
      t.equal(await c.recv({ source: r, tag: 123 }), msg, `message #${i}`);
      await req.wait();
    }
    t.equal(c.iprobe({ source: ANY_SOURCE, tag: ANY_TAG }), null, "iprobe after everything was received");
    await c.barrier();
  });
}

async function procNull(x: Ctx, c: Communicator): Promise<void> {
  const r = c.rank;
  const p = c.size;
  await x.run("PROC_NULL: every send completes, every recv gives undefined (testProcNull, C2)", async (t) => {
    await c.send({ a: 1 }, PROC_NULL, { tag: 1 });
    await c.isend(Float64Array.of(1, 2), PROC_NULL).wait();
    await c.ssend("x", PROC_NULL, { tag: 3 });
    await c.issend("x", PROC_NULL).wait();
    t.ok((await c.recv({ source: PROC_NULL })) === undefined, "recv from PROC_NULL gives undefined");
    t.ok((await c.irecv({ source: PROC_NULL, tag: 5 }).wait()) === undefined, "irecv from PROC_NULL gives undefined");
    const st = await c.recvWithStatus({ source: PROC_NULL, tag: 9 });
    t.equal([st.data, st.source, st.tag, st.count], [undefined, PROC_NULL, ANY_TAG, 0], "recvWithStatus from PROC_NULL: [data, source, tag, count]");
    const out = Float64Array.of(7, 7, 7);
    const got = await c.recv({ source: PROC_NULL, out });
    t.ok(got === undefined, `recv with out from PROC_NULL gives undefined, got ${typeof got}`);
    t.typed(out, Float64Array, [7, 7, 7], "out after recv from PROC_NULL");
    t.ok((await c.sendrecv("x", PROC_NULL, { source: PROC_NULL })) === undefined, "sendrecv with PROC_NULL both ways gives undefined");
    const buf = Int32Array.of(4, 5);
    await c.sendrecvReplace(buf, PROC_NULL, { source: PROC_NULL });
    t.typed(buf, Int32Array, [4, 5], "sendrecvReplace with PROC_NULL both ways leaves the buffer");
  });
  await x.run("PROC_NULL at the ends of a non-periodic shift (sendrecv)", async (t) => {
    const got = await c.sendrecv(r, r + 1 < p ? r + 1 : PROC_NULL, { source: r > 0 ? r - 1 : PROC_NULL, tag: 40, sendTag: 40 });
    t.equal(got, r > 0 ? r - 1 : undefined, "shifted value");
  });
}

async function synchronous(x: Ctx, c: Communicator): Promise<void> {
  const p = c.size;
  const r = c.rank;
  await x.run("ssend chain 0 → 1 → … (testSSendAndRecv, C2)", async (t) => {
    for (const [i, msg] of messages(x).entries()) {
      let got: unknown = msg;
      if (p === 1) {
        const req = c.irecv({ source: 0, tag: 50 });
        await c.ssend(msg, 0, { tag: 50 });
        got = await req.wait();
      } else if (r === 0) await c.ssend(msg, 1, { tag: 50 });
      else {
        got = await c.recv({ source: r - 1, tag: 50 });
        if (r < p - 1) await c.ssend(got, r + 1, { tag: 50 });
      }
      t.equal(got, msg, `message #${i}`);
    }
  });
  await x.run("issend to self is not complete until the receive is posted (testISSendAndRecv, C2)", async (t) => {
    for (const [i, msg] of messages(x).slice(0, 4).entries()) {
      const req = c.issend(msg, r, { tag: 51 });
      await sleep(10);
      t.ok(!req.test().done, `message #${i}: issend completed with no receive posted`);
      t.equal(await c.recv({ source: r, tag: 51 }), msg, `message #${i}`);
      await req.wait();
    }
  });
  await x.run("irecv tags 1,2,3 posted; ssend in order 3,2,1 (testIRecvAndSSend, C2)", async (t) => {
    const reqs = [1, 2, 3].map((tag) => c.irecv({ source: r, tag: 60 + tag }));
    for (const tag of [3, 2, 1]) await c.ssend(`m${tag}`, r, { tag: 60 + tag });
    t.equal(await Promise.all(reqs.map((q) => q.wait())), ["m1", "m2", "m3"], "received");
  });
}

/** Many requests at once, ping-pong and mixed forms (test_p2p_obj's Many*, PingPong01, Mixed, WaitSomeSend). */
async function many(x: Ctx, c: Communicator): Promise<void> {
  const p = c.size;
  const r = c.rank;
  const right = (r + 1) % p;
  const left = (r - 1 + p) % p;
  for (const form of ["isend", "issend"] as const) {
    await x.run(`${form} of every message to the right at once, then recv them in order, then waitAll (testMany${form === "isend" ? "ISend" : "ISSend"}AndRecv)`, async (t) => {
      const msgs = messages(x);
      const reqs = msgs.map((m, i) => (form === "isend" ? c.isend(m, right, { tag: 70 + i }) : c.issend(m, right, { tag: 70 + i })));
      for (const [i, m] of msgs.entries()) t.equal(await c.recv({ source: left, tag: 70 + i }), m, `message #${i}`);
      t.equal(
        await waitAll(reqs),
        msgs.map(() => undefined),
        "waitAll of the sends",
      );
      t.ok(
        reqs.every((q) => !q.active),
        "every send is inactive after waitAll",
      );
    });
  }
  await x.run("ping-pong between rank 0 and the last rank, Float64Array of 0…2^16 elements (testPingPong01)", async (t) => {
    const last = p - 1;
    for (let n = 0; n <= 1 << 16; n = n === 0 ? 1 : n * 4) {
      const ping = Float64Array.from({ length: n }, (_, i) => i + 0.5);
      // Nonblocking sends, so that on one rank the same process plays both ends.
      const sent = r === 0 ? c.isend(ping, last, { tag: 80 }) : null;
      const echoed =
        r === last
          ? await c.recv<Float64Array>({ source: 0, tag: 80 }).then((got) => {
              t.typed(got, Float64Array, ping, `ping of ${n}`);
              return c.isend(
                got.map((v) => -v),
                0,
                { tag: 81 },
              );
            })
          : null;
      if (r === 0)
        t.typed(
          await c.recv({ source: last, tag: 81 }),
          Float64Array,
          ping.map((v) => -v),
          `pong of ${n}`,
        );
      await sent?.wait();
      await echoed?.wait();
    }
  });
  await x.run("send, isend, ssend, issend to self, received by recv and irecv in reverse tag order (testMixed)", async (t) => {
    const rreqs = [c.irecv({ source: r, tag: 93 }), c.irecv({ source: r, tag: 92 })];
    const sreqs = [c.isend("a", r, { tag: 90 }), c.issend("b", r, { tag: 91 })];
    await c.send("c", r, { tag: 92 });
    const ss = c.ssend("d", r, { tag: 93 });
    t.equal(await waitAll(rreqs), ["d", "c"], "the irecvs (tags 93, 92)");
    await ss;
    t.equal([await c.recv({ source: r, tag: 91 }), await c.recv({ source: r, tag: 90 })], ["b", "a"], "the recvs (tags 91, 90)");
    await waitAll(sreqs);
  });
  await x.run("waitSome over isends to the right: each completes once, then null (testWaitSomeSend)", async (t) => {
    const sreqs = range(4).map((i) => c.isend([r, i], right, { tag: 95 + i }));
    const got = range(4).map((i) => c.recv({ source: left, tag: 95 + i }));
    const seen: number[] = [];
    for (let k = 0; k < 4 && seen.length < 4; k++) seen.push(...((await waitSome(sreqs))?.indices ?? []));
    t.equal(seen.sort(), [0, 1, 2, 3], "indices of the completed sends");
    t.equal(await waitSome(sreqs), null, "waitSome with no active request");
    t.equal(
      await Promise.all(got),
      range(4).map((i) => [left, i]),
      "received",
    );
  });
}

/** The list of input that must be a UsageError before anything is sent. */
async function refusals(x: Ctx, c: Communicator): Promise<void> {
  const r = c.rank;
  const bad: Array<[string, () => unknown]> = [
    ["send(x, dest, null)", () => c.send(1, r, null as never)],
    ["send to rank size", () => c.send(1, c.size)],
    ["send with tag -5", () => c.send(1, r, { tag: -5 })],
    ["recv({ timeoutMs: NaN })", () => c.recv({ source: r, tag: 31001, timeoutMs: NaN })],
    ['recv({ timeoutMs: "abc" })', () => c.recv({ source: r, tag: 31002, timeoutMs: "abc" as never })],
    ['recv({ out: "abc" })', () => c.recv({ source: r, tag: 31003, out: "abc" as never })],
    ["recv from source -7", () => c.recv({ source: -7, tag: 31004 })],
  ];
  for (const [what, call] of bad) {
    await x.run(`${what} is a UsageError`, async (t) => {
      await t.rejects(call, UsageError, what, 200);
    });
  }
}

export const p2pGroups: Group[] = [
  {
    name: "p2p",
    from: "test_p2p_obj (SendAndRecv, ISendAndRecv, IRecvAndSend, Sendrecv, SSendAndRecv, ISSendAndRecv, IRecvAndSSend, ManyISendAndRecv, ManyISSendAndRecv, Mixed, WaitSomeSend, Probe, PingPong01); test_p2p_buf (Sendrecv, SendrecvReplace, ProcNull, Probe, IProbe)",
    async body(x) {
      const c = await x.comm.dup();
      await objects(x, c);
      await buffers(x, c);
      await matching(x, c);
      await procNull(x, c);
      await synchronous(x, c);
      await many(x, c);
      await refusals(x, c);
    },
  },
];
