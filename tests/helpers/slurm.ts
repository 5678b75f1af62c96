/** Shared by the Slurm tests: whether srun/sbatch are here, and an environment free of other jobs. */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Why the Slurm tests skip, or null when srun and sbatch are on PATH. */
export function slurmSkipReason(): string | null {
  const which = spawnSync("bash", ["-c", "command -v srun && command -v sbatch"], { encoding: "utf8" });
  if (which.status !== 0) return "srun not found (install the local cluster: bash ../shared/slurm-local/setup.sh)";
  return null;
}

/** The caller's environment without anything that would make srun/sbatch or zmpi see another job. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (/^(ZMPI_|SBATCH_|SRUN_|SALLOC_)/.test(k)) continue;
    if (k.startsWith("SLURM_") && k !== "SLURM_CONF") continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * Runs `srun args` from the repository root with a fresh job secret and a clean environment, to
 * completion or its deadline (then SIGKILL); stdout and stderr interleaved in `out`.
 */
export function srunJob(args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn("srun", args, { cwd: ROOT, env: cleanEnv({ ZMPI_SECRET: randomBytes(24).toString("hex") }), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}
