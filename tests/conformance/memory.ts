/**
 * What the in-memory runs cover, and the runner both in-memory test files share. Every size 1–17
 * runs the world; the threshold sizes (megabytes per rank, all ranks in one process) run where
 * the algorithm choice can change: 1, 2 (allreduce's own threshold), 3, 4 (bcast's rank
 * threshold), 5, 8, 16 (powers of two) and 17; the full products (every op × type × size) at 2
 * and 4 (real processes add 3). Each other kind runs at every third size, rotating, so each meets
 * small, odd, even and large sizes without repeating the same communicator shape 17 times.
 */
import { describe, expect, it } from "vitest";
import { memoryWorld } from "../../src/testing/index.js";
import { groupsFor } from "./groups.js";
import { KINDS, kindsFor, makeComm, runGroup, type Depth, type Kind } from "./plan.js";
import { caseCount, describeFailures } from "./report.js";

/** Sizes 1–17, or `CONFORMANCE_SIZES=2,5` for a quick local run. */
export const SIZES: number[] = process.env.CONFORMANCE_SIZES ? process.env.CONFORMANCE_SIZES.split(",").map(Number) : Array.from({ length: 17 }, (_, i) => i + 1);

const THRESHOLD_SIZES = new Set([1, 2, 3, 4, 5, 8, 16, 17]);
const FULL_SIZES = new Set([2, 4]);

/**
 * Deadline of one group's test. The slowest (allreduce thresholds at 17 ranks) takes ~5 s alone
 * and 17 s on the 2-core machine at load 40; a hang ends its case after 8 s anyway.
 */
const GROUP_TIMEOUT_MS = 90_000;

/** One in-memory configuration. */
export interface MemoryRun {
  p: number;
  kind: Kind;
  depth: Depth;
  thresholds: boolean;
}

/** The configurations at `p` ranks: the world, and the kinds whose turn it is. */
export function memoryRuns(p: number): MemoryRun[] {
  return kindsFor(p)
    .filter((kind) => kind === "world" || (p + KINDS.indexOf(kind)) % 3 === 0 || process.env.CONFORMANCE_ALL_KINDS === "1")
    .map((kind) => {
      const full = kind === "world" && FULL_SIZES.has(p);
      return { p, kind, depth: full ? "full" : "lite", thresholds: kind === "world" && THRESHOLD_SIZES.has(p) };
    });
}

/** Declares one vitest test per group for `run`, each on a fresh in-memory world. */
export function memoryTests(run: MemoryRun): void {
  const { p, kind } = run;
  for (const group of groupsFor(kind, p, "memory", run.thresholds)) {
    it(
      `${kind} · ${group.name}${run.depth === "full" ? " (full)" : ""}`,
      async () => {
        // A hang fails its case after 8 s (every wait has this deadline), then the group stops.
        const world = memoryWorld(p, { timeoutMs: 8_000 });
        const results = await Promise.all(
          world.map(async (w) => {
            const comm = await makeComm(w, kind);
            return comm ? runGroup(group, comm, kind, { level: "memory", depth: run.depth }) : null;
          }),
        );
        const failures = describeFailures(results);
        expect(caseCount(results), "no case ran").toBeGreaterThan(0);
        expect(failures, `${failures.length} failing case(s) in ${kind} · ${group.name} on ${p} in-memory ranks:\n${failures.join("\n")}`).toEqual([]);
      },
      GROUP_TIMEOUT_MS,
    );
  }
}

/** Declares the tests of every size for the kinds `pick` selects. */
export function memorySuite(pick: (kind: Kind) => boolean): void {
  for (const p of SIZES) {
    const runs = memoryRuns(p).filter((r) => pick(r.kind));
    if (runs.length === 0) continue;
    describe(`conformance on ${p} in-memory rank${p > 1 ? "s" : ""}`, () => runs.forEach(memoryTests));
  }
}
