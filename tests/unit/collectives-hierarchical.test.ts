// Node-aware collectives on the in-memory transport with pretend node layouts: the layout every
// rank computes, the automatic choice, and the hierarchical allreduce, bcast and barrier against
// the flat algorithms (bit-identical where the op is exact, identical on every rank always), over
// the world, a dup, and splits that cut across nodes.
import { describe, expect, it } from "vitest";
import { chooseAllreduce, type AllreduceFacts } from "../../src/collectives/allreduce.js";
import { chooseBarrier } from "../../src/collectives/barrier.js";
import { chooseBcast } from "../../src/collectives/bcast.js";
import { chooseHierarchicalShape } from "../../src/collectives/hierarchical.js";
import { multiNode, nodeLayout } from "../../src/collectives/layout.js";
import { memoryWorld } from "../../src/groups/memory-world.js";
import { Op, type Communicator, type TypedArray } from "../../src/index.js";
import { arr, dataFor, refReduce } from "../helpers/coll-ref.js";

const all = <T>(w: Communicator[], f: (c: Communicator) => Promise<T>) => Promise.all(w.map(f));
const KiB = 1024;
/** Byte-for-byte equality (toEqual on 100k-element arrays is slow). */
const bytes = (a: unknown) => Buffer.from((a as TypedArray).buffer, (a as TypedArray).byteOffset, (a as TypedArray).byteLength);
const same = (a: unknown, b: unknown) => bytes(a).equals(bytes(b));
const sent = (w: Communicator[]) => w.reduce((s, c) => s + c.engine.transport.stats().messagesSent, 0);

/** Layouts: uniform blocks, uneven blocks, round-robin (not contiguous), one rank alone on a node, one node. */
const LAYOUTS: number[][] = [
  [0, 0, 1, 1],
  [0, 0, 0, 0, 1, 1, 1, 1],
  [0, 0, 0, 1, 1],
  [0, 1, 0, 1, 0, 1],
  [0, 0, 1, 1, 2],
  [0, 0, 0],
];

describe("node layout", () => {
  it("numbers nodes by their lowest rank and states the facts the choosers read", () => {
    const l = nodeLayout(["b", "a", "b", "c", "a"]);
    expect(l.nodeOf).toEqual([0, 1, 0, 2, 1]);
    expect(l.members).toEqual([[0, 2], [1, 4], [3]]);
    expect(l.leaders).toEqual([0, 1, 3]);
    expect(l.localIndex).toEqual([0, 0, 1, 0, 1]);
    expect(l.facts).toEqual({ nodes: 3, perNode: 2, uniform: false, contiguous: false });
    expect(nodeLayout(["x", "x", "y", "y"]).facts).toEqual({ nodes: 2, perNode: 2, uniform: true, contiguous: true });
    expect(multiNode(nodeLayout(["x", "y", "z"]).facts)).toBe(false); // one rank per node: flat is the hierarchy
    expect(multiNode(nodeLayout(["x", "x"]).facts)).toBe(false);
  });
});

describe("choosers with a layout", () => {
  const two = nodeLayout(["a", "a", "b", "b"]).facts;
  const robin = nodeLayout(["a", "b", "a", "b"]).facts;
  const spread = nodeLayout(["a", "b", "c", "d"]).facts;
  const ar = (extra: Partial<AllreduceFacts> = {}): AllreduceFacts => ({ size: 4, typed: true, bytes: 8, units: 1, commutative: true, layout: two, ...extra });

  it("allreduce: hierarchical across nodes with several ranks on a node, at every size; flat otherwise", () => {
    expect(chooseAllreduce(ar())).toBe("hierarchical");
    expect(chooseAllreduce(ar({ bytes: 64 * KiB * KiB, units: 8 * KiB * KiB }))).toBe("hierarchical");
    expect(chooseAllreduce(ar({ typed: false, bytes: 0, units: 0 }))).toBe("hierarchical");
    expect(chooseAllreduce(ar({ commutative: false }))).toBe("hierarchical"); // block layout keeps rank order
    expect(chooseAllreduce(ar({ commutative: false, layout: robin }))).toBe("recursive-doubling"); // would reorder
    expect(chooseAllreduce(ar({ layout: robin }))).toBe("hierarchical");
    expect(chooseAllreduce(ar({ layout: spread }))).toBe("recursive-doubling");
    expect(chooseAllreduce(ar({ layout: spread, bytes: 64 * KiB * KiB, units: 8 * KiB * KiB }))).toBe("ring");
  });

  it("hierarchical allreduce shape: segments for long typed arrays with a commutative op on a uniform layout", () => {
    const f = { typed: true, bytes: 512 * KiB + 8, units: 64 * KiB + 1, commutative: true, size: 4, uniform: true };
    expect(chooseHierarchicalShape(f)).toBe("segments");
    expect(chooseHierarchicalShape({ ...f, bytes: 512 * KiB })).toBe("leaders");
    expect(chooseHierarchicalShape({ ...f, uniform: false })).toBe("leaders");
    expect(chooseHierarchicalShape({ ...f, commutative: false })).toBe("leaders");
    expect(chooseHierarchicalShape({ ...f, units: 3 })).toBe("leaders");
  });

  it("bcast and barrier: hierarchical from the layout alone (non-roots choose it without the root's bytes)", () => {
    for (const bytes of [null, 0, 8, 512 * KiB, 64 * KiB * KiB]) expect(chooseBcast({ size: 4, bytes, layout: two })).toBe("hierarchical");
    expect(chooseBcast({ size: 4, bytes: 64 * KiB * KiB, layout: spread })).toBe("scatter-allgather");
    expect(chooseBarrier({ size: 4, layout: two })).toBe("hierarchical");
    expect(chooseBarrier({ size: 4, layout: spread })).toBe("dissemination");
    expect(chooseBarrier({ size: 4 })).toBe("dissemination");
  });
});

/** Runs `body` over the world, a dup, and a split that cuts across nodes. */
async function overComms(nodes: number[], body: (w: Communicator[], what: string) => Promise<void>): Promise<void> {
  const world = memoryWorld(nodes.length, { nodes, timeoutMs: 5000 });
  await body(world, "world");
  await body(await all(world, (c) => c.dup()), "dup");
  const halves = await all(world, (c) => c.split(c.rank % 2));
  for (const color of [0, 1]) {
    const part = halves.filter((_c, r) => r % 2 === color) as Communicator[];
    if (part.length > 1) await body(part, `split(${color})`);
  }
}

describe("hierarchical allreduce", () => {
  for (const nodes of LAYOUTS) {
    it(`equals the flat result on nodes [${nodes}], small and long arrays, plain values, every rank alike`, async () => {
      await overComms(nodes, async (w, what) => {
        // 140 000 int32 = 560 KB: above the segments threshold (512 KiB).
        for (const n of [1, 3, 17, 140_000]) {
          for (const name of n > 100 ? ["SUM"] : ["SUM", "MAX"]) {
            const data = w.map((c) => dataFor(Int32Array, n, c.rank, name));
            const flat = (await all(w, (c) => c.allreduce(data[c.rank]!, (Op as unknown as Record<string, Op>)[name]!, { algorithm: "recursive-doubling" })))[0];
            if (n < 100) expect(arr(flat)).toEqual(arr(refReduce(data, name)));
            for (const algorithm of ["hierarchical", undefined]) {
              const res = await all(w, (c) => c.allreduce(data[c.rank]!, (Op as unknown as Record<string, Op>)[name]!, { algorithm }));
              for (const r of res) expect(same(r, flat), `${what} n=${n} ${name} ${algorithm}`).toBe(true);
            }
          }
          // Floats: not compared with the flat order, but identical on every rank.
          const f = w.map((c) => Float64Array.from({ length: n }, (_, i) => Math.sin(c.rank * 1.7 + i) * 1e-3 + 1 / (c.rank + 3)));
          const res = await all(w, (c) => c.allreduce(f[c.rank]!, Op.SUM, { algorithm: "hierarchical" }));
          for (const r of res) expect(same(r, res[0]), `${what} f64 n=${n}`).toBe(true);
        }
        expect(await all(w, (c) => c.allreduce(c.rank + 1, Op.SUM))).toEqual(new Array(w.length).fill((w.length * (w.length + 1)) / 2));
      });
    });
  }

  it("keeps rank order for a non-commutative op: hierarchical on block layouts, flat fallback on round-robin", async () => {
    const cat = Op.create((a, b) => `${a as string}${b as string}`, { commutative: false });
    for (const nodes of LAYOUTS) {
      const w = memoryWorld(nodes.length, { nodes, timeoutMs: 5000 });
      const want = w.map((c) => `r${c.rank}`).join("");
      for (const algorithm of ["hierarchical", undefined]) expect(await all(w, (c) => c.allreduce(`r${c.rank}`, cat, { algorithm }))).toEqual(new Array(w.length).fill(want));
      const right = Op.create((_a, b) => b, { commutative: false });
      const res = await all(w, (c) => c.allreduce(Int32Array.of(c.rank, -c.rank), right, { algorithm: "hierarchical" }));
      for (const r of res) expect(arr(r)).toEqual([w.length - 1, -(w.length - 1)]);
    }
  });

  it("writes into out and in place, never aliasing the input", async () => {
    const w = memoryWorld(4, { nodes: [0, 0, 1, 1] });
    for (const n of [5, 200_000]) {
      const data = w.map((c) => Float64Array.from({ length: n }, (_, i) => c.rank + i));
      const outs = w.map(() => new Float64Array(n + 2));
      const res = await all(w, (c) => c.allreduce(data[c.rank]!, Op.SUM, { out: outs[c.rank], algorithm: "hierarchical" }));
      res.forEach((r, i) => expect((r as Float64Array).buffer).toBe(outs[i]!.buffer));
      expect((res[3] as Float64Array)[n - 1]).toBe(6 + 4 * (n - 1));
      const mine = w.map((c) => Float64Array.from({ length: n }, () => c.rank));
      const inPlace = await all(w, (c) => c.allreduce(mine[c.rank]!, Op.SUM, { out: mine[c.rank] }));
      inPlace.forEach((r) => expect((r as Float64Array)[0]).toBe(6));
      const fresh = await all(w, (c) => c.allreduce(data[c.rank]!, Op.SUM));
      fresh.forEach((r, i) => expect((r as Float64Array).buffer !== data[i]!.buffer, "a fresh result").toBe(true));
    }
  });
});

describe("hierarchical bcast", () => {
  for (const nodes of LAYOUTS) {
    it(`every root, typed and plain, with and without receive buffers, on nodes [${nodes}]`, async () => {
      await overComms(nodes, async (w, what) => {
        for (let root = 0; root < w.length; root++) {
          for (const n of root === 0 || root === w.length - 1 ? [3, 300_000] : [3]) {
            const src = Int32Array.from({ length: n }, (_, i) => i * 7 + root);
            for (const algorithm of ["hierarchical", undefined]) {
              const res = await all(w, (c) => c.bcast(c.rank === root ? src : undefined, root, { algorithm }));
              for (const r of res) expect(same(r, src), `${what} root ${root} n ${n}`).toBe(true);
              expect(res[root] !== src, "the root's result is a copy").toBe(true);
              const bufs = w.map(() => new Int32Array(n));
              const into = await all(w, (c) => c.bcast(c.rank === root ? src : bufs[c.rank], root, { algorithm }));
              into.forEach((r, i) => i !== root && expect(r).toBe(bufs[i]));
              into.forEach((r) => expect((r as Int32Array)[n - 1]).toBe(src[n - 1]));
            }
          }
          const plain = await all(w, (c) => c.bcast(c.rank === root ? { root, list: [1, "two"] } : undefined, root));
          for (const r of plain) expect(r).toEqual({ root, list: [1, "two"] });
        }
      });
    });
  }

  it("a receive buffer of the wrong size fails every rank, naming both", async () => {
    const w = memoryWorld(4, { nodes: [0, 0, 1, 1] });
    const res = await Promise.allSettled(w.map((c) => c.bcast(c.rank === 0 ? new Int32Array(8) : new Int32Array(c.rank === 3 ? 4 : 8), 0)));
    expect(res[3]!.status).toBe("rejected");
    expect(String((res[3] as PromiseRejectedResult).reason)).toMatch(/int32\[8\].*int32\[4\]|int32\[4\].*int32\[8\]/);
  });
});

describe("hierarchical barrier", () => {
  it("is chosen on the world across nodes, not on a split with one rank per node; waits for every rank", async () => {
    const w = memoryWorld(4, { nodes: [0, 0, 1, 1] });
    let before = sent(w);
    await all(w, (c) => c.barrier());
    // Hierarchical: 2 reports + 2 leader messages + 2 releases; dissemination would send 8.
    expect(sent(w) - before).toBe(6);
    before = sent(w);
    await all(w, (c) => c.barrier({ algorithm: "dissemination" }));
    expect(sent(w) - before).toBe(8);
    // A split has its own layout: {0,1,2} spans nodes [0,0,1] (hierarchical: 1 report, 2 leader
    // messages, 1 release; dissemination would send 6); {0,2} has one rank per node (dissemination).
    const three = (await all(w, (c) => c.split(c.rank < 3 ? 0 : 1))).slice(0, 3) as Communicator[];
    before = sent(w);
    await all(three, (c) => c.barrier());
    expect(sent(w) - before).toBe(4);
    const dups = await all(w, (c) => c.dup());
    before = sent(w);
    await all(dups, (c) => c.barrier());
    expect(sent(w) - before).toBe(6);
    const pairs = (await all(w, (c) => c.split(c.rank % 2))) as Communicator[];
    before = sent(w);
    await all([pairs[0]!, pairs[2]!], (c) => c.barrier({ algorithm: "dissemination" }));
    await all([pairs[0]!, pairs[2]!], (c) => c.barrier());
    expect(sent(w) - before).toBe(4);

    for (const nodes of LAYOUTS) {
      const v = memoryWorld(nodes.length, { nodes, timeoutMs: 5000 });
      const late = nodes.length - 1;
      let released = 0;
      const done = v.map((c) =>
        (c.rank === late ? new Promise((r) => setTimeout(r, 30)) : Promise.resolve())
          .then(() => c.barrier({ algorithm: "hierarchical" }))
          .then(() => {
            released++;
          }),
      );
      await new Promise((r) => setTimeout(r, 15));
      expect(released).toBe(0);
      await Promise.all(done);
      expect(released).toBe(nodes.length);
    }
  });
});
