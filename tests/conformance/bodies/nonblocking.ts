/**
 * Nonblocking collectives interleaved with blocking ones and with local awaits that differ per
 * rank (legal in MPI as long as every rank starts the same collectives in the same order),
 * several calls of one collective in flight, point-to-point traffic in between, and the v-forms
 * without counts (issue 9's defect 4: their place in the sequence must be fixed when they are
 * called). Also barrier (mpi4py's testBarrier, Ibarrier) with a check that it really waits.
 * Ported from mpi4py's test_cco_nb_buf / test_cco_nb_vec (every I… form) and test_cco_obj.
 */
import { Op, type TypedArray } from "../../../src/index.js";
import { F64, moveRef, opNamed, prefixes, contribution } from "../data.js";
import type { Ctx, Group } from "../plan.js";
import { localAwait, range } from "../plan.js";
import { join } from "./common.js";

const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

/** A promise awaited later: its rejection is handled now (it still rejects when awaited). */
function held<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** mpi4py's testBarrier, plus proof that no rank leaves before the last one enters. */
async function barrierBody(x: Ctx): Promise<void> {
  const { comm } = x;
  const p = comm.size;
  await x.run("barrier, ibarrier().wait(), three in a row", async () => {
    await comm.barrier();
    await comm.ibarrier().wait();
    await Promise.all([comm.ibarrier().wait(), comm.ibarrier().wait(), comm.barrier()]);
  });
  await x.run("barrier waits for the last rank to enter", async (t) => {
    // Everyone but rank 0 says it is about to enter; rank 0 hears all of them, waits 40 ms, enters.
    // Nobody may leave within 40 ms of its own entry (minus timer slack).
    if (comm.rank !== 0) {
      await comm.send("entering", 0, { tag: 901 });
      const t0 = performance.now();
      await comm.barrier();
      const waited = performance.now() - t0;
      t.ok(waited >= 30, `left the barrier after ${waited.toFixed(1)} ms although rank 0 entered 40 ms after this rank`);
    } else {
      for (let i = 1; i < p; i++) await comm.recv({ tag: 901 });
      await sleep(40);
      await comm.barrier();
    }
  });
}

/** Several collectives started, local awaits, blocking calls in between, waited in another order. */
async function interleave(x: Ctx): Promise<void> {
  const { comm } = x;
  const p = comm.size;
  const r = comm.rank;
  const sum = opNamed("SUM");
  await x.run("iallreduce, ibcast, igather started; local await; allreduce; iscan; waited in reverse", async (t) => {
    const a = contribution(F64, sum, 5, r, p, 1);
    const r1 = comm.iallreduce(a, Op.SUM);
    const r2 = comm.ibcast(r === p - 1 ? { from: "last", list: [1, 2] } : undefined, p - 1);
    const r3 = comm.igather(Int32Array.of(r, -r), 0);
    await localAwait(r);
    const b = await comm.allreduce(r + 1, Op.SUM);
    await localAwait(r + 1, 5);
    const r4 = comm.iscan(contribution(F64, sum, 3, r, p, 2), Op.SUM);
    t.equal(b, (p * (p + 1)) / 2, "blocking allreduce between");
    t.typed(await r4.wait(), Float64Array, prefixes(F64, sum, 3, p, 2)[r]!, "iscan");
    const g = await r3.wait();
    if (r === 0) t.typed(g, Int32Array, Int32Array.from(range(p).flatMap((q) => [q, -q])), "igather");
    else t.ok(g === undefined, "igather on a non-root gives undefined");
    t.equal(await r2.wait(), { from: "last", list: [1, 2] }, "ibcast");
    t.typed(await r1.wait(), Float64Array, prefixes(F64, sum, 5, p, 1)[p - 1]!, "iallreduce");
  });
  await x.run("three iallreduce of one signature in flight, matched in call order", async (t) => {
    const reqs = [1, 2, 3].map((s) => comm.iallreduce(contribution(F64, sum, 4, r, p, 10 + s), Op.SUM));
    await localAwait(r);
    const got = await Promise.all([reqs[2]!.wait(), reqs[0]!.wait(), reqs[1]!.wait()]);
    [3, 1, 2].forEach((s, i) => t.typed(got[i], Float64Array, prefixes(F64, sum, 4, p, 10 + s)[p - 1]!, `iallreduce #${s}`));
  });
  await x.run("iallgather in flight across a point-to-point ring exchange", async (t) => {
    const req = comm.iallgather(Float64Array.of(r + 0.5));
    await localAwait(r);
    const got = await comm.sendrecv({ from: r }, (r + 1) % p, { source: (r - 1 + p) % p, tag: 902, sendTag: 902 });
    t.equal(got, { from: (r - 1 + p) % p }, "sendrecv between");
    t.typed(
      await req.wait(),
      Float64Array,
      range(p).map((q) => q + 0.5),
      "iallgather",
    );
  });
  await x.run("ialltoall and ireduceScatter started before a barrier, waited after it", async (t) => {
    const a2a = comm.ialltoall(range(p).map((j) => `${r}->${j}`));
    const rs = comm.ireduceScatter(
      Int32Array.from(range(2 * p), (i) => i + r),
      Op.SUM,
      range(p).map(() => 2),
    );
    await localAwait(r);
    await comm.barrier();
    t.equal(
      await a2a.wait(),
      range(p).map((s) => `${s}->${r}`),
      "ialltoall",
    );
    const base = (p * (p - 1)) / 2;
    t.typed(await rs.wait(), Int32Array, [2 * r * p + base, (2 * r + 1) * p + base], "ireduceScatter");
  });
}

/**
 * Defect 4: a v-form without counts is started, then some ranks await something local, then
 * everyone calls another collective. Its place in the sequence is where it was called.
 */
async function vNoCounts(x: Ctx): Promise<void> {
  const { comm } = x;
  const p = comm.size;
  const r = comm.rank;
  const counts = range(p).map((i) => (i * 3 + 1) % 4);
  const mine = () => moveRef(F64, counts[r]!, r, 21).slice() as TypedArray;
  const all = () =>
    join(
      F64,
      range(p).map((q) => moveRef(F64, counts[q]!, q, 21)),
    );
  for (const then of ["barrier", "allreduce", "ibarrier"] as const) {
    const next = async () => {
      if (then === "barrier") await comm.barrier();
      else if (then === "allreduce") return comm.allreduce(1, Op.SUM);
      else await comm.ibarrier().wait();
      return p;
    };
    await x.run(`allgatherv without counts, local await on even ranks, then ${then}`, async (t) => {
      const pending = held(comm.allgatherv(mine()));
      await localAwait(r, 20);
      t.equal(await next(), p, then);
      t.typed(await pending, Float64Array, all(), "allgatherv");
    });
    await x.run(`gatherv without counts (root ${p - 1}), local await on even ranks, then ${then}`, async (t) => {
      const pending = held(comm.gatherv(mine(), undefined, p - 1));
      await localAwait(r, 20);
      t.equal(await next(), p, then);
      const got = await pending;
      if (r === p - 1) t.typed(got, Float64Array, all(), "gatherv");
      else t.ok(got === undefined, "gatherv on a non-root gives undefined");
    });
    await x.run(`alltoallv without recvCounts, local await on even ranks, then ${then}`, async (t) => {
      const send = range(p).map((j) => (r + j) % 3);
      const data = join(
        F64,
        range(p).map((j) => moveRef(F64, send[j]!, r, 22, j << 20)),
      );
      const pending = held(comm.alltoallv(data, send));
      await localAwait(r, 20);
      t.equal(await next(), p, then);
      t.typed(
        await pending,
        Float64Array,
        join(
          F64,
          range(p).map((s) => moveRef(F64, (s + r) % 3, s, 22, r << 20)),
        ),
        "alltoallv",
      );
    });
  }
  await x.run("two v-forms without counts in flight, then a blocking bcast", async (t) => {
    const a = held(comm.allgatherv(mine()));
    const b = held(comm.gatherv(mine(), undefined, 0));
    await localAwait(r + 1, 10);
    t.equal(await comm.bcast(r === 0 ? "go" : undefined, 0), "go", "bcast");
    t.typed(await a, Float64Array, all(), "allgatherv");
    const g = await b;
    if (r === 0) t.typed(g, Float64Array, all(), "gatherv");
  });
}

export const nonblockingGroups: Group[] = [
  { name: "barrier", from: "test_cco_obj/test_cco_buf testBarrier; test_cco_nb_buf testBarrier (Ibarrier)", body: barrierBody },
  {
    name: "nonblocking",
    from: "test_cco_nb_buf / test_cco_nb_vec (I… forms, interleaved); issue 9 defect 4",
    async body(x) {
      await interleave(x);
      await vNoCounts(x);
    },
  },
];
