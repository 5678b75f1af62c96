/**
 * How long a waiting receive polls before it sleeps, and how it shares its core meanwhile
 * (shared-memory rings, shm-channel.ts; TCP connections from other nodes, tcp-poll.ts): the
 * user's setting, else the path's default while every rank of the job on this machine has a core
 * of its own, else 0. Oversubscribed, a rank that polls takes the core its partner needs to answer
 * (measured, 4 ranks on 2 cores, 8 B allreduce: 883–936 µs polling 100 µs, 563–569 µs never
 * polling); Open MPI yields then too. A long poll yields now and then ({@link YIELD_AFTER_US}).
 */
import { availableParallelism } from "node:os";
import { loadNativeAddon } from "./native-addon.js";

/** The polling budget, µs, for `localRanks` of the job's ranks on this machine (this one included). */
export function pollBudget(setting: number | undefined, defaultUs: number, localRanks: number, cores = availableParallelism()): number {
  return setting ?? (localRanks <= cores ? defaultUs : 0);
}

/**
 * A poll that has found nothing for this long, µs, starts to give up its core now and then
 * (every {@link YIELD_EVERY_US}). The scheduler may put the partner it waits for on its own core
 * (a woken task goes where its waker runs; other load makes it stay there), and a poll that never
 * yields then holds the answer back for its whole budget, message after message. Measured, 2 ranks
 * on 2 pretend nodes pinned to one core (`taskset -c 0`), 8 B half round trip: 161–172 µs polling
 * without yielding, 73 µs not polling at all, 102–115 µs yielding from 50 µs on; unpinned runs
 * fell into that state now and then and stayed (169–182 µs against 38). Not sooner: a yield hands
 * the core to any other task that waits for it, niced ones included, so on a busy machine every
 * yield costs; an answer from another node takes 33–40 µs here, from the same node a few µs, and
 * yielding from 20 µs on cost unpinned runs beside other work 39–65 µs a hop against 33–37 µs.
 * (MPICH polls a while before it yields; UPC++ yields after idle polls when oversubscribed.)
 */
export const YIELD_AFTER_US = 50;
/** Once yielding, a poll yields this often, µs (a yield costs ~1 µs when no other task waits). */
export const YIELD_EVERY_US = 10;

/** When a poll that began at `start` (ms, `performance.now()`) first yields. */
export function firstYield(start: number): number {
  return start + YIELD_AFTER_US / 1000;
}

/** At `now`, yields with `yielder` if the time `at` has come; returns when to yield next. */
export function yieldIfDue(now: number, at: number, yielder: () => void): number {
  if (now < at) return at;
  yielder();
  return now + YIELD_EVERY_US / 1000;
}

let yielder: (() => void) | null = null;

/** Lets a task waiting for this core run now (the addon's `sched_yield`); nothing without the addon. */
export function yieldCpu(): void {
  if (yielder === null) {
    const f = loadNativeAddon().addon?.yieldCpu;
    yielder = typeof f === "function" ? (f as () => void) : () => {};
  }
  yielder();
}
