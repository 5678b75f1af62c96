/** How many workers a rank's pool gets. */
import os from "node:os";
import { UsageError } from "../errors.js";

/** Sizing inputs of {@link createPool}. */
export interface PoolSizeOptions {
  /** Explicit worker count (wins over everything). */
  size?: number;
  /** CPUs Slurm gave this task; `undefined` = read `SLURM_CPUS_PER_TASK`, `null` = ignore it. */
  cpusPerTask?: number | null;
  /** Ranks sharing this node (they split its CPUs). Default 1. */
  ranksOnNode?: number;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new UsageError(`${name} must be a positive integer, got ${v}`, { op: "createPool" });
  return v;
}

/**
 * size option, else cpusPerTask (`SLURM_CPUS_PER_TASK` when not given), else
 * max(1, floor(availableParallelism / ranksOnNode)).
 */
export function resolvePoolSize(opts: PoolSizeOptions = {}, env: NodeJS.ProcessEnv = process.env, cpus: number = os.availableParallelism()): number {
  if (opts.size !== undefined) return positiveInt("size", opts.size);
  let perTask = opts.cpusPerTask;
  if (perTask === undefined) {
    const raw = env.SLURM_CPUS_PER_TASK;
    if (raw !== undefined && raw.trim() !== "") {
      const v = Number(raw);
      if (!Number.isSafeInteger(v) || v < 1) throw new UsageError(`SLURM_CPUS_PER_TASK must be a positive integer, got ${JSON.stringify(raw)}`, { op: "createPool" });
      perTask = v;
    }
  }
  if (perTask !== undefined && perTask !== null) return positiveInt("cpusPerTask", perTask);
  const ranks = positiveInt("ranksOnNode", opts.ranksOnNode ?? 1);
  return Math.max(1, Math.floor(cpus / ranks));
}
