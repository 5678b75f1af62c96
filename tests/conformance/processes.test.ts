/**
 * The conformance suite on real processes through `zmpi launch`: one job per rank count (1–5, the
 * 4- and 5-rank jobs over two pretend nodes), each running every group over every communicator
 * kind (rank-main.ts), reported as one test per (kind, group). The world's groups try both sides
 * of every threshold, at "full" depth on 3 ranks (every op × type × size) and "lite" elsewhere;
 * the other kinds run at "lite" (every value of every dimension, rotated instead of multiplied).
 */
import { describe } from "vitest";
import { runJob } from "../helpers/run.js";
import { jobTests, RANK_MAIN } from "./jobs.js";

const SIZES = process.env.CONFORMANCE_NP ? process.env.CONFORMANCE_NP.split(",").map(Number) : [1, 2, 3, 4, 5];
const FULL_NP = 3;

for (const np of SIZES) {
  const where = `on ${np} real rank${np > 1 ? "s" : ""} (zmpi launch${np >= 4 ? ", 2 pretend nodes" : ""})`;
  describe(`conformance ${where}`, () => {
    jobTests(np, where, async (from) => {
      const job = await runJob(RANK_MAIN, np, {
        nodes: np >= 4 ? 2 : 1,
        killOnBadExit: false,
        timeoutSec: 300,
        env: { CONFORMANCE_FROM: String(from), CONFORMANCE_WORLD_DEPTH: np === FULL_NP ? "full" : "lite", ZMPI_TIMEOUT: "30" },
      });
      return { code: job.code, stdout: job.stdout, stderr: job.stderr };
    });
  });
}
