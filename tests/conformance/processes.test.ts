/**
 * The conformance suite on real processes through `zmpi launch`: one job per rank count (1–5, the
 * 4- and 5-rank jobs over two pretend nodes), each running every group over the communicator
 * kinds of its plan (PROCESS_PLANS in groups.ts; rank-main.ts), reported as one test per (kind,
 * group). Every group runs at "lite" depth (every value of every dimension, rotated instead of
 * multiplied): the full products run in memory, where they cost no process launches. The 2- and
 * 4-rank worlds also try both sides of every threshold (automatic choice, SUM). One more 3-rank job
 * runs with the same-node shared-memory channel off (ZMPI_SHM=0).
 */
import { describe } from "vitest";
import { runJob } from "../helpers/run.js";
import { planEnv, processPlan } from "./groups.js";
import { jobTests, RANK_MAIN } from "./jobs.js";

const SIZES = process.env.CONFORMANCE_NP ? process.env.CONFORMANCE_NP.split(",").map(Number) : [1, 2, 3, 4, 5];

/** The suite's jobs on `np` ranks, with `env` on top (`label` says what it changes). */
function conformance(np: number, env: Record<string, string> = {}, label = ""): void {
  const where = `on ${np} real rank${np > 1 ? "s" : ""} (zmpi launch${np >= 4 ? ", 2 pretend nodes" : ""}${label})`;
  describe(`conformance ${where}`, () => {
    const jp = processPlan(np);
    jobTests(np, where, jp, async (from) => {
      const job = await runJob(RANK_MAIN, np, {
        nodes: np >= 4 ? 2 : 1,
        killOnBadExit: false,
        timeoutSec: 300,
        env: { ...planEnv(jp), CONFORMANCE_FROM: String(from), CONFORMANCE_WORLD_DEPTH: "lite", ZMPI_TIMEOUT: "30", ...env },
      });
      return { code: job.code, stdout: job.stdout, stderr: job.stderr };
    });
  });
}

for (const np of SIZES) conformance(np);
// The same-node shared-memory channel (issue 15) is on by default above; one job shows the
// socket path alone still conforms. One, at 3 ranks, to keep CI short.
if (SIZES.includes(3)) conformance(3, { ZMPI_SHM: "0" }, ", ZMPI_SHM=0");
