/**
 * Communicator operations, ported from mpi4py's test_comm (testSize, testRank, testGroup,
 * testCloneFree, testCompare via dup, testSplit) and test_p2p_obj's use of Dup() for a separate
 * message space: split with equal keys, by rank, with UNDEFINED, nested; subgroup order; dup's
 * isolation from its parent; free() (C2) releases a communicator, using it afterwards fails at
 * once, and dup/free cycles keep working.
 */
import { Op, UNDEFINED, ZmpiError } from "../../../src/index.js";
import type { Ctx, Group } from "../plan.js";
import { range } from "../plan.js";

const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

async function basics(x: Ctx): Promise<void> {
  const { comm } = x;
  const p = comm.size;
  const r = comm.rank;
  await x.run("size ≥ 1, 0 ≤ rank < size, group and worldRankOf agree", async (t) => {
    t.ok(Number.isInteger(p) && p >= 1, `size ${p}`);
    t.ok(Number.isInteger(r) && r >= 0 && r < p, `rank ${r} of ${p}`);
    t.equal(comm.group.length, p, "group length");
    t.equal(
      range(p).map((q) => comm.worldRankOf(q)),
      [...comm.group],
      "worldRankOf vs group",
    );
    const all = await comm.allgather(comm.worldRankOf(r));
    t.equal(all, [...comm.group], "every rank's own world rank, gathered in rank order");
  });
  await x.run("split(42, 42): same size and order; split(rank, 42): alone (testSplit)", async (t) => {
    const same = await comm.split(42, 42);
    t.equal(same && [same.size, same.rank, [...same.group]], [p, r, [...comm.group]], "split(42, 42) [size, rank, group]");
    const alone = await comm.split(r, 42);
    t.equal(alone && [alone.size, alone.rank], [1, 0], "split(rank, 42) [size, rank]");
    t.equal(await alone?.allreduce(r + 1, Op.SUM), r + 1, "allreduce on the 1-rank split");
  });
  await x.run("split with UNDEFINED on odd ranks: null there, the even ranks in order elsewhere", async (t) => {
    const evens = await comm.split(r % 2 === 0 ? 0 : UNDEFINED, r);
    if (r % 2) t.ok(evens === null, "odd ranks get null");
    else {
      const want = range(p).filter((q) => q % 2 === 0);
      t.equal(evens && [evens.size, evens.rank, [...evens.group]], [want.length, r / 2, want.map((q) => comm.group[q])], "[size, rank, group]");
      t.equal(await evens?.allgather(r), want, "allgather of the parent ranks");
    }
  });
  await x.run("nested split: by parity, then with reversed keys", async (t) => {
    const half = (await comm.split(r % 2, r))!;
    const rev = (await half.split(0, -half.rank))!;
    const members = range(p).filter((q) => q % 2 === r % 2);
    t.equal([rev.size, rev.rank], [members.length, members.length - 1 - members.indexOf(r)], "[size, rank]");
    t.equal(await rev.allgather(r), members.slice().reverse(), "parent ranks in the new order");
  });
  await x.run("subgroup in reversed order: ranks reversed, results in the new order", async (t) => {
    const sub = (await comm.subgroup(range(p).reverse()))!;
    t.equal([sub.size, sub.rank, sub.worldRankOf(0)], [p, p - 1 - r, comm.group[p - 1]], "[size, rank, world rank of 0]");
    t.equal(await sub.gather(r, 0), sub.rank === 0 ? range(p).reverse() : undefined, "gather at the new rank 0");
  });
}

async function dupAndFree(x: Ctx): Promise<void> {
  const { comm } = x;
  const r = comm.rank;
  await x.run("dup: same group, another context; messages do not cross between them", async (t) => {
    const d = await comm.dup();
    t.equal([d.size, d.rank, [...d.group]], [comm.size, r, [...comm.group]], "dup [size, rank, group]");
    t.ok(d.contextId !== comm.contextId, `dup's context id ${d.contextId} equals its parent's`);
    const req = d.isend("on the dup", r, { tag: 5 });
    await req.wait();
    await sleep(5);
    t.equal(comm.iprobe({ source: r, tag: 5 }), null, "the parent sees the dup's message");
    t.equal(await d.recv({ source: r, tag: 5 }), "on the dup", "the dup receives it");
    await d.barrier();
  });
  await x.run("free(): a freed communicator fails at once when used; dup/free 20 times (testCloneFree, C2)", async (t) => {
    const d = await comm.dup();
    await d.barrier();
    d.free();
    await t.rejects(() => d.barrier(), ZmpiError, "barrier on a freed communicator", 5000);
    await t.rejects(() => d.send(1, r), ZmpiError, "send on a freed communicator", 5000);
    for (let i = 0; i < 20; i++) {
      const e = await comm.dup();
      t.equal(await e.allreduce(1, Op.SUM), comm.size, `allreduce on dup #${i}`);
      e.free();
    }
    t.equal(await comm.allreduce(1, Op.SUM), comm.size, "the parent still works");
  });
}

export const commGroups: Group[] = [
  {
    name: "communicators",
    from: "test_comm (Size, Rank, Group, CloneFree, Compare/Dup, Split); test_p2p_obj Dup() isolation",
    async body(x) {
      await basics(x);
      await dupAndFree(x);
    },
  },
];
