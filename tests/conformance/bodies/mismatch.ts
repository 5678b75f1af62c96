/**
 * C1: rooted collectives include the root in their signature, so ranks that name different roots
 * fail with CollectiveMismatchError instead of returning different values silently. Each case
 * ends the job on purpose, so these groups run on the in-memory transport only, each on a fresh
 * world.
 *
 * Every rank fails at that call — also a rank whose neighbours agree with it and whose part of
 * the algorithm completes (a bcast root that only sends): the root check of
 * src/collectives/sequence.ts is a dissemination exchange, so every rank hears (transitively) from
 * every other before it returns. The conformance suite found the earlier one-neighbour check
 * short of this on 3 ranks with roots [0, 1, 0], now a pattern of its own.
 */
import { CollectiveMismatchError, Op, type Communicator } from "../../../src/index.js";
import type { Group } from "../plan.js";

type Call = (c: Communicator, root: number) => Promise<unknown>;

const CALLS: Array<[string, Call]> = [
  ["bcast", (c, root) => c.bcast(c.rank === root ? { v: 1 } : undefined, root, { timeoutMs: 4000 })],
  ["reduce", (c, root) => c.reduce(Float64Array.of(c.rank), Op.SUM, root, { timeoutMs: 4000 })],
  ["gather", (c, root) => c.gather(c.rank, root, { timeoutMs: 4000 })],
  ["scatter", (c, root) => c.scatter(c.rank === root ? Array.from({ length: c.size }, (_, i) => i) : undefined, root, { timeoutMs: 4000 })],
];

/** Roots that differ between ranks: each rank names itself, or the ranks split over roots 0 and 1. */
const PATTERNS: Array<[string, (r: number) => number]> = [
  ["every rank names itself as root", (r) => r],
  ["root = rank % 2", (r) => r % 2],
  ["one rank names another root (rank 1 names 1, the others 0)", (r) => (r === 1 ? 1 : 0)],
];

export const mismatchGroups: Group[] = CALLS.flatMap(([name, call]) =>
  PATTERNS.map(
    ([label, rootOf], i): Group => ({
      name: `${name} root mismatch ${i + 1}`,
      from: "CONTRACTS C1 (root in the signature); issue 9 'bcast with a different root on different ranks'",
      memoryOnly: true,
      minSize: 2,
      async body(x) {
        const c = x.comm;
        const mine = rootOf(c.rank);
        await x.run(`${name} with ${label}: CollectiveMismatchError at this call on every rank`, async (t) => {
          let failedHere = false;
          try {
            await call(c, mine);
          } catch (e) {
            failedHere = true;
            t.ok(e instanceof CollectiveMismatchError, `${name} (${label}) failed with ${(e as Error).name}, expected CollectiveMismatchError`);
          }
          t.ok(failedHere, `${name} (${label}): this rank names root ${mine} and others do not, but the call succeeded here`);
        });
      },
    }),
  ),
);
