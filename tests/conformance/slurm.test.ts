/**
 * The conformance suite under the real `srun` of the local Slurm cluster: 4 tasks, 2 per node
 * (`srun -N2 --ntasks-per-node=2`), each a real task started by a slurmd, talking over the real
 * transports (Unix sockets within a node, ZeroMQ between n1 and n2). Every group over the kinds
 * of SRUN_PLAN (groups.ts) at "lite" depth, the world with both sides of every threshold, one
 * test per (kind, group). Skips, saying why, when srun is not installed.
 */
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { beforeAll, describe } from "vitest";
import { cleanEnv, slurmSkipReason } from "../helpers/slurm.js";
import { planEnv, SRUN_PLAN } from "./groups.js";
import { jobTests, RANK_MAIN, type Launched } from "./jobs.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NP = 4;
const skipReason = slurmSkipReason();
if (skipReason) console.warn(`skipped: conformance under srun: ${skipReason}`);

/** One `srun` step with a deadline: SIGTERM (srun cancels the step), then SIGKILL. */
function srun(from: number, timeoutMs: number): Promise<Launched> {
  return new Promise((resolve) => {
    const env = cleanEnv({
      ZMPI_SECRET: `conformance-${process.pid}-${Date.now().toString(36)}-secret`,
      ZMPI_TIMEOUT: "30",
      ...planEnv(SRUN_PLAN),
      CONFORMANCE_FROM: String(from),
      CONFORMANCE_WORLD_DEPTH: "lite",
    });
    const child = spawn("srun", ["-N2", "--ntasks-per-node=2", "--label", "--kill-on-bad-exit=0", process.execPath, "--import", "tsx", RANK_MAIN], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    const timer = setTimeout(() => {
      stderr += `\n(srun killed after ${timeoutMs / 1000} s)`;
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 3000).unref();
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe.skipIf(skipReason !== null)(`conformance under srun -N2 --ntasks-per-node=${NP / 2}`, () => {
  beforeAll(() => {
    const nodes = spawnSync("sinfo", ["-h", "-o", "%D %t"], { encoding: "utf8", timeout: 10_000 });
    console.log(`sinfo: ${(nodes.stdout || nodes.stderr).trim()}`);
  });
  jobTests(NP, `under srun (${NP} tasks on n1,n2)`, SRUN_PLAN, (from) => srun(from, 300_000));
});
