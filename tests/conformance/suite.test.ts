/**
 * Checks of the conformance suite itself: that it reads every threshold select.ts has and tries
 * both sides of each (C1's `THRESHOLDS`), that its sizes really fall on the sides they claim, and
 * that its checks fail when a collective is wrong (a suite that cannot fail proves nothing).
 */
import { describe, expect, it } from "vitest";
import type { Communicator, TypedArray } from "../../src/index.js";
import { memoryWorld } from "../../src/testing/index.js";
import { GROUPS } from "./groups.js";
import { makeComm, runGroup } from "./plan.js";
import { sides, THRESHOLDS, unlisted, type Threshold } from "./thresholds.js";

describe("the conformance suite's thresholds", () => {
  it("select.ts exports THRESHOLDS listing every *_BYTES constant (C1)", () => {
    expect(unlisted, "named thresholds missing from THRESHOLDS").toEqual([]);
  }, 30_000);

  it("finds at least the thresholds select.ts had when the suite was written", () => {
    const names = THRESHOLDS.map((t) => t.name);
    for (const n of [
      "ALLREDUCE_RING_MIN_BYTES",
      "ALLREDUCE_RING_MIN_BYTES_MANY",
      "BCAST_SCATTER_MIN_BYTES",
      "REDUCE_SCATTER_GATHER_MIN_BYTES",
      "ALLGATHER_RING_MIN_BYTES",
      "ALLTOALL_PAIRWISE_MIN_BYTES",
      "RING_SEGMENT_BYTES",
    ]) {
      expect(names).toContain(n);
    }
  }, 30_000);

  it("every threshold is tried by a group of the collective it decides", () => {
    const covered = (t: Threshold) =>
      t.measure === "ring"
        ? ["allreduce", "reduce", "allgather", "reduceScatter", "bcast"].every((c) => GROUPS.some((g) => g.thresholdsOf === c))
        : GROUPS.some((g) => g.thresholdsOf === t.collective);
    expect(THRESHOLDS.filter((t) => !covered(t)).map((t) => `${t.name} (${t.collective})`)).toEqual([]);
  }, 30_000);

  it("puts one size strictly below and one strictly above each threshold, at 1–17 ranks, in pairs too", () => {
    const wrong: string[] = [];
    for (const t of THRESHOLDS) {
      for (let p = 1; p <= 17; p++) {
        for (const elt of [1, 4, 8]) {
          for (const pairs of [false, true]) {
            for (const perRank of t.measure === "ring" ? [false, true] : [false]) {
              const unit = pairs ? 2 : 1;
              const measure = (n: number) => {
                switch (t.measure) {
                  case "input":
                    return n * elt;
                  case "gathered":
                    return n * elt * p;
                  case "block":
                    return (n / p) * elt;
                  case "ring":
                    return perRank ? n * elt : Math.ceil(n / unit / p) * unit * elt;
                }
              };
              const [lo, hi] = sides(t, p, elt, { pairs, perRank });
              const ok =
                measure(lo!.n) < t.bytes &&
                measure(hi!.n) > t.bytes &&
                (!pairs || (lo!.n % 2 === 0 && hi!.n % 2 === 0)) &&
                (t.measure !== "block" || (lo!.n % p === 0 && hi!.n % p === 0));
              if (!ok) wrong.push(`${t.name} p=${p} elt=${elt} pairs=${pairs}: ${lo!.n} / ${hi!.n}`);
            }
          }
        }
      }
    }
    expect(wrong.slice(0, 10)).toEqual([]);
  }, 30_000);
});

/** Runs `group` on a 3-rank memory world whose communicators `spoil` has changed. */
async function runSpoiled(group: string, spoil: (c: Communicator) => void): Promise<string[]> {
  const g = GROUPS.find((x) => x.name === group)!;
  const world = memoryWorld(3, { timeoutMs: 8_000 });
  const res = await Promise.all(
    world.map(async (w) => {
      const c = (await makeComm(w, "world"))!;
      spoil(c);
      return runGroup(g, c, "world", { level: "memory", depth: "lite" });
    }),
  );
  return res.flatMap((r) => r.failures.map((f) => `${f.case}: ${f.message}`));
}

describe("the conformance suite's checks fail when a collective is wrong", () => {
  it("an allreduce that is off by one in one element on rank 1", async () => {
    const failures = await runSpoiled("allreduce", (c) => {
      if (c.rank !== 1) return;
      const real = c.allreduce.bind(c);
      c.allreduce = (async (data: unknown, op: never, opts?: never) => {
        const r = (await real(data, op, opts)) as unknown;
        if (ArrayBuffer.isView(r) && (r as TypedArray).length > 0) {
          const a = r as unknown as { [i: number]: number | bigint };
          a[0] = typeof a[0] === "bigint" ? a[0] + 1n : (a[0] as number) + 1;
        }
        return r;
      }) as typeof c.allreduce;
    });
    expect(failures.some((f) => /element 0 is/.test(f))).toBe(true);
  }, 30_000);

  it("a scatter whose result aliases the root's array (C1)", async () => {
    const failures = await runSpoiled("scatter", (c) => {
      const real = c.scatter.bind(c);
      c.scatter = (async (data: unknown, root = 0, opts?: never) => {
        const r = (await real(data as never, root, opts)) as unknown;
        if (c.rank === root && ArrayBuffer.isView(data) && ArrayBuffer.isView(r) && !(opts as { out?: unknown } | undefined)?.out) {
          const k = (r as TypedArray).length;
          return (data as TypedArray).subarray(root * k, root * k + k);
        }
        return r;
      }) as typeof c.scatter;
    });
    expect(failures.some((f) => /aliases the input/.test(f))).toBe(true);
  }, 30_000);

  it("a reduce that returns the root's own input object", async () => {
    const failures = await runSpoiled("reduce", (c) => {
      const real = c.reduce.bind(c);
      c.reduce = (async (data: unknown, op: never, root = 0, opts?: never) => {
        const r = await real(data, op, root, opts);
        return c.rank === root && typeof data === "object" && data !== null && !ArrayBuffer.isView(data) ? data : r;
      }) as typeof c.reduce;
    });
    expect(failures.some((f) => /the input object itself/.test(f))).toBe(true);
  }, 30_000);
});
