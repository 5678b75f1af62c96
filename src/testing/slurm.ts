/**
 * Slurm tests that skip cleanly off-cluster: `slurmAvailable()` says whether `srun` can start a job
 * step here, and `describeSlurm` is vitest's `describe` when it can, else a skipped suite whose
 * name says why. vitest is an optional peer dependency, loaded only if installed.
 */
import { spawnSync } from "node:child_process";

type Describe = ((name: string, fn: () => void) => void) & { skip: (name: string, fn: () => void) => void };

const vitest = (await import("vitest").catch(() => null)) as { describe: Describe } | null;

let reason: string | null | undefined;

function probe(): string | null {
  const srun = spawnSync("srun", ["--version"], { encoding: "utf8", timeout: 10_000 });
  if (srun.error) return `srun cannot be run here (${(srun.error as NodeJS.ErrnoException).code === "ENOENT" ? "not on PATH" : srun.error.message})`;
  const sinfo = spawnSync("sinfo", ["--noheader", "--format=%T"], { encoding: "utf8", timeout: 10_000 });
  if (sinfo.error || sinfo.status !== 0) return `sinfo failed: ${(sinfo.stderr || sinfo.error?.message || `status ${sinfo.status}`).trim().split("\n")[0]}`;
  const states = sinfo.stdout
    .split("\n")
    .map((s) => s.trim())
    .filter(Boolean);
  if (!states.some((s) => /^(idle|mixed|allocated|completing)/.test(s))) return `no Slurm node is up (sinfo: ${states.join(", ") || "no nodes"})`;
  return null;
}

/** Why Slurm jobs cannot run here (srun missing, controller down, no node up), or null when they can. Probed once per process. */
export function slurmUnavailableReason(): string | null {
  if (reason === undefined) reason = probe();
  return reason;
}

/** True when `srun` can start job steps here: it is on PATH and `sinfo` shows a node up. */
export function slurmAvailable(): boolean {
  return slurmUnavailableReason() === null;
}

/**
 * vitest's `describe` for tests that need Slurm: when Slurm is not available the suite is skipped
 * and its name says why, e.g. `srun -N2 (skipped: srun cannot be run here (not on PATH))`.
 *
 * ```ts
 * describeSlurm("on two nodes", () => {
 *   it("runs", () => { expect(spawnSync("srun", ["-N2", "-n4", "node", "app.mjs"]).status).toBe(0); });
 * });
 * ```
 */
export function describeSlurm(name: string, fn: () => void): void {
  if (vitest === null) throw new Error("describeSlurm needs vitest, which is not installed (npm install --save-dev vitest)");
  const why = slurmUnavailableReason();
  if (why === null) vitest.describe(name, fn);
  else vitest.describe.skip(`${name} (skipped: ${why})`, fn);
}
