/**
 * `zmpi/testing`: for users' own tests of rank-aware code. `runJob` runs a program on N real local
 * ranks and returns each rank's status and output; `memoryWorld` / `runInMemory` give n `World`s in
 * one process for unit tests; `slurmAvailable` / `describeSlurm` skip Slurm tests off-cluster and
 * say why.
 *
 * ```ts
 * import { expect, it } from "vitest";
 * import { Op } from "zmpi";
 * import { runInMemory, runJob } from "zmpi/testing";
 *
 * it("sums on 3 ranks in memory", async () => {
 *   const sums = await runInMemory(3, async (w) => (await w.allreduce(new Float64Array([w.rank]), Op.SUM))[0]);
 *   expect(sums).toEqual([3, 3, 3]);
 * });
 *
 * it("runs app.mjs on 4 processes", async () => {
 *   expect((await runJob({ np: 4, script: new URL("../app.mjs", import.meta.url) })).code).toBe(0);
 * });
 * ```
 * @packageDocumentation
 */
export { memoryWorld, runInMemory, type MemoryWorldOptions } from "./memory-world.js";
export { runJob, type RunJobOptions, type JobOutput, type RankOutput } from "./run-job.js";
export { slurmAvailable, slurmUnavailableReason, describeSlurm } from "./slurm.js";
