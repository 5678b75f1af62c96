/**
 * mpi4py's test shape for point-to-point (TestP2PObjSelf, …World, …SelfDup, …WorldDup): one test
 * body run over several communicators of an in-memory world, every rank at once.
 */
import type { Communicator } from "../../src/index.js";
import { memoryWorld } from "../../src/groups/memory-world.js";

/** A kind of communicator to run a body on. */
export type CommKind = "world" | "dup" | "self" | "reversed";

export const COMM_KINDS: readonly CommKind[] = ["world", "dup", "self", "reversed"];

/** Makes, on every rank of a fresh `size`-rank memory world, the communicator of that kind. */
export async function commsOf(kind: CommKind, size: number): Promise<Communicator[]> {
  const w = memoryWorld(size, { timeoutMs: 20_000 });
  if (kind === "world") return w;
  if (kind === "dup") return Promise.all(w.map((c) => c.dup()));
  if (kind === "self") return (await Promise.all(w.map((c) => c.split(c.rank)))) as Communicator[];
  return (await Promise.all(w.map((c) => c.split(0, c.size - c.rank, "reversed")))) as Communicator[];
}

/** Runs `body` on every rank of each kind of communicator, for each size. */
export async function onEveryComm(sizes: readonly number[], body: (c: Communicator) => Promise<void>): Promise<void> {
  for (const size of sizes) {
    for (const kind of COMM_KINDS) {
      const comms = await commsOf(kind, size);
      try {
        await Promise.all(comms.map(body));
      } catch (e) {
        (e as Error).message = `[${kind} of ${size} ranks] ${(e as Error).message}`;
        throw e;
      }
    }
  }
}
