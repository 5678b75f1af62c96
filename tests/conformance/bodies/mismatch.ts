/**
 * C1: rooted collectives include the root in their signature, so ranks that name different roots
 * fail with CollectiveMismatchError instead of returning different values silently. Each case
 * ends the job on purpose, so these groups run on the in-memory transport only, each on a fresh
 * world.
 *
 * What holds (checked here): every rank whose left neighbour names another root fails at that
 * call (the neighbour check of src/collectives/sequence.ts), and every rank fails with
 * CollectiveMismatchError at that call or at its next collective. What C1 and the README promise
 * beyond that — "every rank at that call" — does NOT hold: a rank whose neighbours agree with it
 * and whose part of the algorithm completes (a bcast root that only sends) may return before the
 * failure reaches it. The conformance suite found this on 3 ranks with roots [0, 1, 0]; making it
 * hold needs an agreement among all ranks in every rooted call (see the h9-conf report).
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
        const leftDiffers = rootOf((c.rank - 1 + c.size) % c.size) !== mine;
        await x.run(`${name} with ${label}: CollectiveMismatchError at this call where the left neighbour differs, at the next call at the latest elsewhere`, async (t) => {
          let failedHere = false;
          try {
            await call(c, mine);
          } catch (e) {
            failedHere = true;
            t.ok(e instanceof CollectiveMismatchError, `${name} (${label}) failed with ${(e as Error).name}, expected CollectiveMismatchError`);
          }
          if (leftDiffers)
            t.ok(failedHere, `${name} (${label}): the left neighbour names root ${rootOf((c.rank - 1 + c.size) % c.size)}, this rank ${mine}, but the call succeeded`);
          if (!failedHere) await t.rejects(() => c.barrier({ timeoutMs: 4000 }), CollectiveMismatchError, `the barrier after ${name} (${label}) succeeded here`, 8000);
        });
      },
    }),
  ),
);
