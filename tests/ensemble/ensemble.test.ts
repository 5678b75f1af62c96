// world.ensemble() on the in-memory transport: states dealt to groups, walkers' blocks, run()
// gathering per-state results to rank 0, map results independent of the layout, and the checks.
import { afterAll, describe, expect, it } from "vitest";
import { createPool } from "../../src/compute/index.js";
import { defaultGroups, Ensemble } from "../../src/ensemble/index.js";
import { UsageError } from "../../src/errors.js";
import { memoryWorld } from "../../src/groups/memory-world.js";
import { createRng } from "../../src/rng/index.js";

const pool = createPool({ size: 2 });
afterAll(() => pool.close());
const work = new URL("../compute/fixtures/map-work.mjs", import.meta.url);

async function ensembles(ranks: number, opts: { states: number; walkers: number; groups?: number }, seed: (r: number) => number = () => 7): Promise<Ensemble[]> {
  const world = memoryWorld(ranks);
  return Promise.all(world.map((c) => Ensemble.create(c, opts, { pool: () => pool, seed: seed(c.rank) })));
}

describe("ensemble layout", () => {
  it("default groups: the largest divisor of the rank count not above the states", () => {
    expect(defaultGroups(4, 4)).toBe(4);
    expect(defaultGroups(4, 3)).toBe(2);
    expect(defaultGroups(6, 4)).toBe(3);
    expect(defaultGroups(7, 3)).toBe(1);
    expect(defaultGroups(1, 5)).toBe(1);
  });

  it("deals states round-robin to groups of consecutive ranks; blocks of walkers within a group", async () => {
    const ens = await ensembles(6, { states: 5, walkers: 10, groups: 3 });
    expect(ens.map((e) => e.group)).toEqual([0, 0, 1, 1, 2, 2]);
    expect(ens.map((e) => e.myStates)).toEqual([[0, 3], [0, 3], [1, 4], [1, 4], [2], [2]]);
    expect(ens.map((e) => e.comm.size)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(ens.map((e) => e.block())).toEqual([0, 1, 0, 1, 0, 1].map((r) => (r === 0 ? { start: 0, count: 5 } : { start: 5, count: 5 })));
    expect(ens[0]!.block(7, 1)).toEqual({ start: 4, count: 3 });
    expect(ens[0]!.ownerOf(4)).toBe(1);
    expect(ens[3]!.rng(4, "x").uniform()).toBe(createRng(7, "state", 4, "x").uniform());
  });

  it("run() gives rank 0 every state's result, the same for 1, 2 or 3 groups and 1–6 ranks", async () => {
    const body = async (e: Ensemble) =>
      e.run(async (s) => {
        const r = s.rng("walk");
        const xs = Array.from({ length: s.walkers }, () => ({ x: r.normal(), ms: 0 }));
        const ys = await s.map<{ x: number; ms: number }, number>(work, "sleepEcho", xs);
        return { state: s.state, sum: ys.reduce((a, b) => a + b, 0), leader: s.isLeader };
      });
    const layouts: Array<[number, number]> = [
      [1, 1],
      [2, 1],
      [2, 2],
      [3, 3],
      [6, 3],
      [6, 2],
    ];
    let want: unknown;
    for (const [ranks, groups] of layouts) {
      const ens = await ensembles(ranks, { states: 3, walkers: 9, groups });
      const got = await Promise.all(ens.map(body));
      expect(got.slice(1).every((g) => g === undefined)).toBe(true);
      expect(got[0]!.map((g) => g.state)).toEqual([0, 1, 2]);
      want ??= got[0];
      expect(got[0]).toEqual(want);
    }
  });

  it("refuses layouts that do not fit, and ranks that disagree on the seed", async () => {
    await expect(ensembles(4, { states: 4, walkers: 8, groups: 3 })).rejects.toThrow(/3 state groups do not divide 4 ranks; groups that fit: 1, 2, 4/);
    await expect(ensembles(4, { states: 2, walkers: 8, groups: 4 })).rejects.toThrow(/would leave 2 group\(s\) idle/);
    await expect(ensembles(2, { states: 0, walkers: 8 })).rejects.toThrow(UsageError);
    await expect(ensembles(2, { states: 2, walkers: 1.5 })).rejects.toThrow(/walkers must be a positive integer/);
    await expect(ensembles(2, { states: 2, walkers: 4 }, (r) => r)).rejects.toThrow(/ranks disagree on \[states, walkers, groups, seed\]/);
  });
});
