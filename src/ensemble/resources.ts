/**
 * What `advise` may count on: the Slurm allocation this process runs in (SLURM_* variables), or
 * this machine (node:os: usable CPUs, available memory under any cgroup limit, load).
 */
import os from "node:os";
import { UsageError } from "../errors.js";
import { parseTasksPerNode } from "../env/tasks-per-node.js";
import type { Resources } from "./advise.js";

/** Facts about this host (injectable for tests). */
export interface HostFacts {
  cpus: number;
  /** Available memory, bytes (MemAvailable on Linux). */
  freeMem: number;
  /** A cgroup limit, bytes (0 or undefined: none). */
  constrainedMem?: number;
  load: number;
}

/** This host's facts from node:os. */
export function hostFacts(): HostFacts {
  const constrained = (os as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  return { cpus: os.availableParallelism(), freeMem: os.freemem(), constrainedMem: constrained, load: os.loadavg()[0]! };
}

function intVar(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const v = Number(raw.trim());
  if (!Number.isSafeInteger(v) || v < 0) throw new UsageError(`${name}=${JSON.stringify(raw)} is not a non-negative integer`, { op: "advise" });
  return v;
}

/** First count of a Slurm compressed list ("4(x2),2" → 4); the smallest is what every node has. */
function smallestOf(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  return Math.min(...parseTasksPerNode(raw, name));
}

/**
 * The resources of the Slurm allocation in `env` (when SLURM_JOB_ID is set), else of this machine.
 * Slurm: nodes, tasks and CPUs per node, CPUs per task, memory (SLURM_MEM_PER_NODE, or
 * SLURM_MEM_PER_CPU × CPUs per node, in MB). Machine: one node, its usable CPUs, available memory
 * (capped by a cgroup limit), 1-minute load.
 */
export function detectResources(env: Record<string, string | undefined> = process.env, host: HostFacts = hostFacts()): Resources {
  if (env.SLURM_JOB_ID) {
    const nodes = intVar(env, "SLURM_JOB_NUM_NODES") ?? intVar(env, "SLURM_NNODES") ?? 1;
    const cpusPerNode = smallestOf(env, "SLURM_JOB_CPUS_PER_NODE") ?? intVar(env, "SLURM_CPUS_ON_NODE") ?? host.cpus;
    const tasksPerNode = smallestOf(env, "SLURM_TASKS_PER_NODE") ?? intVar(env, "SLURM_NTASKS_PER_NODE");
    const cpusPerTask = intVar(env, "SLURM_CPUS_PER_TASK");
    const perNode = intVar(env, "SLURM_MEM_PER_NODE");
    const perCpu = intVar(env, "SLURM_MEM_PER_CPU");
    const memPerNode = perNode ? perNode * 2 ** 20 : perCpu ? perCpu * cpusPerNode * 2 ** 20 : undefined;
    return { source: "slurm", nodes, cpusPerNode, tasksPerNode, cpusPerTask, memPerNode };
  }
  const limit = host.constrainedMem && host.constrainedMem > 0 ? host.constrainedMem : Infinity;
  return { source: "machine", nodes: 1, cpusPerNode: host.cpus, memPerNode: Math.min(host.freeMem, limit), load: host.load };
}
