/**
 * How long a waiting receive polls before it sleeps (shared-memory rings, shm-channel.ts; TCP
 * connections from other nodes, tcp-poll.ts): the user's setting, else the path's default while
 * every rank of the job on this machine has a core of its own, else 0. Oversubscribed, a rank
 * that polls takes the core its partner needs to answer (measured, 4 ranks on 2 cores, 8 B
 * allreduce: 883–936 µs polling 100 µs, 563–569 µs never polling); Open MPI yields then too.
 */
import { availableParallelism } from "node:os";

/** The polling budget, µs, for `localRanks` of the job's ranks on this machine (this one included). */
export function pollBudget(setting: number | undefined, defaultUs: number, localRanks: number, cores = availableParallelism()): number {
  return setting ?? (localRanks <= cores ? defaultUs : 0);
}
