// The algorithm choosers are pure functions of facts every rank shares: checked from tables, no
// ranks needed, on both sides of every threshold in THRESHOLDS.
import { describe, expect, it } from "vitest";
import { chooseAllgather, type AllgatherFacts } from "../../src/collectives/allgather.js";
import { chooseAllreduce, type AllreduceFacts } from "../../src/collectives/allreduce.js";
import { chooseAlltoall } from "../../src/collectives/alltoall.js";
import { chooseBarrier } from "../../src/collectives/barrier.js";
import { chooseBcast } from "../../src/collectives/bcast.js";
import { chooseGather } from "../../src/collectives/gather.js";
import { chooseReduce, type ReduceFacts } from "../../src/collectives/reduce.js";
import { chooseReduceScatter } from "../../src/collectives/reduce-scatter.js";
import { chooseScan } from "../../src/collectives/scan.js";
import { chooseScatter } from "../../src/collectives/scatter.js";
import * as select from "../../src/collectives/select.js";
import { ALGORITHMS, THRESHOLDS } from "../../src/index.js";

const KiB = 1024;
const ar = (size: number, bytes: number, extra: Partial<AllreduceFacts> = {}): AllreduceFacts => ({ size, typed: true, bytes, units: bytes / 8, commutative: true, ...extra });
const rd = (size: number, bytes: number, extra: Partial<ReduceFacts> = {}): ReduceFacts => ({ size, typed: true, bytes, commutative: true, ...extra });
const ag = (size: number, totalBytes: number, typed = true): AllgatherFacts => ({ size, typed, totalBytes });

describe("choosers", () => {
  it("allreduce: ring above 32 KiB on 2 ranks, above 512 KiB on more; recursive doubling otherwise", () => {
    const table: Array<[AllreduceFacts, string]> = [
      [ar(2, 32 * KiB), "recursive-doubling"],
      [ar(2, 32 * KiB + 8), "ring"],
      [ar(3, 32 * KiB + 8), "recursive-doubling"],
      [ar(3, 512 * KiB), "recursive-doubling"],
      [ar(3, 512 * KiB + 8), "ring"],
      [ar(64, 64 * 1024 * KiB), "ring"],
      [ar(4, 8 * 1024 * KiB, { commutative: false }), "recursive-doubling"],
      [ar(4, 8 * 1024 * KiB, { typed: false }), "recursive-doubling"],
      [ar(8, 1024 * KiB, { units: 7 }), "recursive-doubling"], // fewer items than ranks
      [ar(1, 64 * KiB), "recursive-doubling"], // one rank: the many-rank threshold
    ];
    for (const [f, want] of table) expect(chooseAllreduce(f), JSON.stringify(f)).toBe(want);
  });

  it("reduce: reduce-scatter-gather from 512 KiB with a commutative op on 2+ ranks", () => {
    const table: Array<[ReduceFacts, string]> = [
      [rd(4, 512 * KiB - 8), "binomial"],
      [rd(4, 512 * KiB), "reduce-scatter-gather"],
      [rd(1, 512 * KiB), "binomial"],
      [rd(4, 1024 * KiB, { commutative: false }), "binomial"],
      [rd(4, 0, { typed: false }), "binomial"],
    ];
    for (const [f, want] of table) expect(chooseReduce(f), JSON.stringify(f)).toBe(want);
  });

  it("bcast: scatter-allgather from 512 KiB on 4+ ranks, binomial for plain values and below", () => {
    expect(chooseBcast({ size: 4, bytes: 512 * KiB })).toBe("scatter-allgather");
    expect(chooseBcast({ size: 4, bytes: 512 * KiB - 1 })).toBe("binomial");
    expect(chooseBcast({ size: 3, bytes: 64 * 1024 * KiB })).toBe("binomial");
    expect(chooseBcast({ size: 64, bytes: null })).toBe("binomial");
  });

  it("allgather: ring from 256 KiB in total; below, recursive doubling on powers of two, else Bruck", () => {
    expect(chooseAllgather(ag(4, 256 * KiB))).toBe("ring");
    expect(chooseAllgather(ag(4, 256 * KiB - 4))).toBe("recursive-doubling");
    expect(chooseAllgather(ag(6, 256 * KiB - 4))).toBe("bruck");
    expect(chooseAllgather(ag(6, 1024 * KiB, false))).toBe("bruck");
  });

  it("alltoall, reduceScatter and the single-algorithm collectives", () => {
    expect(chooseAlltoall({ blockBytes: 64 * KiB })).toBe("pairwise");
    expect(chooseAlltoall({ blockBytes: 64 * KiB - 1 })).toBe("linear");
    expect(chooseReduceScatter({ commutative: true })).toBe("ring");
    expect(chooseReduceScatter({ commutative: false })).toBe("reduce-scatterv");
    expect([chooseBarrier({ size: 5 }), chooseGather({ size: 5 }), chooseScatter({ size: 5 }), chooseScan({ size: 5 })]).toEqual([
      "dissemination",
      "linear",
      "linear",
      "recursive-doubling",
    ]);
  });

  it("every chooser answers with a name listed in ALGORITHMS", () => {
    const names = new Set(Object.values(ALGORITHMS).flat());
    for (const a of [
      chooseAllreduce(ar(2, 1)),
      chooseAllreduce(ar(2, 1e9)),
      chooseReduce(rd(2, 1e9)),
      chooseBcast({ size: 9, bytes: 1e9 }),
      chooseAllgather(ag(3, 1)),
      chooseAlltoall({ blockBytes: 1e9 }),
    ]) {
      expect(names.has(a as never), a).toBe(true);
    }
  });
});

describe("THRESHOLDS", () => {
  it("lists every exported byte threshold of select.ts under its own name and value", () => {
    const exported = Object.entries(select).filter(([k, v]) => typeof v === "number" && k.includes("_BYTES"));
    expect(THRESHOLDS.map((t) => t.name).sort()).toEqual(exported.map(([k]) => k).sort());
    for (const t of THRESHOLDS) {
      expect(t.bytes, t.name).toBe((select as unknown as Record<string, number>)[t.name]);
      expect(Object.keys(ALGORITHMS)).toContain(t.collective);
    }
  });

  it("each threshold flips its collective's choice between its two sides", () => {
    const flip: Record<string, (bytes: number) => string> = {
      ALLREDUCE_RING_MIN_BYTES: (b) => chooseAllreduce(ar(2, b)),
      ALLREDUCE_RING_MIN_BYTES_MANY: (b) => chooseAllreduce(ar(5, b)),
      BCAST_SCATTER_MIN_BYTES: (b) => chooseBcast({ size: select.BCAST_SCATTER_MIN_RANKS, bytes: b }),
      REDUCE_SCATTER_GATHER_MIN_BYTES: (b) => chooseReduce(rd(3, b)),
      ALLGATHER_RING_MIN_BYTES: (b) => chooseAllgather(ag(3, b)),
      ALLTOALL_PAIRWISE_MIN_BYTES: (b) => chooseAlltoall({ blockBytes: b }),
    };
    for (const t of THRESHOLDS) {
      const f = flip[t.name];
      if (!f) continue; // RING_SEGMENT_BYTES cuts ring blocks into segments; it chooses no algorithm
      expect(f(t.bytes - 8), `${t.name} below`).not.toBe(f(t.bytes + 8));
    }
  });
});
