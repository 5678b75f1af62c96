/**
 * Who am I: turns the launcher's environment variables (Slurm, `zmpi launch`, Open MPI, torchrun)
 * into a {@link RankEnvironment}. Pure and synchronous, so it can be tested with recorded
 * environments and called before anything else starts.
 */

import { hostname as osHostname } from "node:os";
import { UsageError } from "../errors.js";
import { deriveCoordinatorPort, parsePort } from "./coord-port.js";
import { expandHostlist } from "./hostlist.js";
import { parseTasksPerNode } from "./tasks-per-node.js";
import type { CoordinatorInfo, LaunchMethod, RankEnvironment } from "./types.js";

/** An environment, shaped like `process.env`. */
export type EnvVars = Record<string, string | undefined>;

/** Options of {@link detectEnvironment}. */
export interface DetectOptions {
  /** Used instead of `os.hostname()` (tests; containers with a meaningless hostname). */
  hostname?: string;
}

/**
 * The variables `zmpi launch` sets for every rank (the launcher ↔ runtime contract), plus the
 * user overrides read under every launcher.
 *
 * Contract: `ZMPI_RANK` and `ZMPI_SIZE` are required; the others default to a one-node world
 * (`ZMPI_LOCAL_RANK` = rank, `ZMPI_LOCAL_SIZE` = size, `ZMPI_NODE_INDEX` = 0,
 * `ZMPI_NUM_NODES` = 1, `ZMPI_NODE_NAME` = hostname, `ZMPI_JOB_ID` = `"local"`,
 * `ZMPI_COORD_ADDR` = `127.0.0.1`, `ZMPI_COORD_PORT` = derived from the job id). The coordinator
 * runs on rank 0.
 */
const ZMPI_ENV = {
  /** Force a launch method: `slurm`, `zmpi`, `torchrun`, `ompi`, `single` (or `auto`/empty). */
  LAUNCHER: "ZMPI_LAUNCHER",
  RANK: "ZMPI_RANK",
  SIZE: "ZMPI_SIZE",
  LOCAL_RANK: "ZMPI_LOCAL_RANK",
  LOCAL_SIZE: "ZMPI_LOCAL_SIZE",
  NODE_INDEX: "ZMPI_NODE_INDEX",
  NUM_NODES: "ZMPI_NUM_NODES",
  /** Also an override under every launcher. */
  NODE_NAME: "ZMPI_NODE_NAME",
  JOB_ID: "ZMPI_JOB_ID",
  /** Also an override under every launcher. */
  COORD_ADDR: "ZMPI_COORD_ADDR",
  /** Also an override under every launcher. */
  COORD_PORT: "ZMPI_COORD_PORT",
  /** Override: address to bind this rank's data socket to. */
  HOST_ADDR: "ZMPI_HOST_ADDR",
} as const;

const METHODS: readonly LaunchMethod[] = ["slurm", "zmpi", "torchrun", "ompi", "single"];
const LOOPBACK = "127.0.0.1";

/** Strict readers: every value is checked, and errors name the variable and quote its value. */
class Vars {
  constructor(private readonly env: EnvVars) {}

  has(name: string): boolean {
    return this.env[name] !== undefined;
  }

  /** First of `names` that is set, with its name (for error messages). */
  first(names: readonly string[]): { name: string; value: string } | undefined {
    for (const name of names) {
      const value = this.env[name];
      if (value !== undefined) {
        if (value.trim() === "") throw new UsageError(`${name}="${value}" is empty`);
        return { name, value };
      }
    }
    return undefined;
  }

  str(name: string): string | undefined {
    return this.first([name])?.value;
  }

  requireFirst(names: readonly string[], why: string): { name: string; value: string } {
    const found = this.first(names);
    if (!found) throw new UsageError(`${names.join(" or ")} must be set ${why}`);
    return found;
  }

  /** A non-negative decimal integer (no sign, no fraction, no spaces), at least `min`. */
  int(names: string | readonly string[], min = 0): number | undefined {
    const env = this.env;
    for (const name of typeof names === "string" ? [names] : names) {
      const value = env[name];
      if (value === undefined) continue;
      const n = /^\d+$/.test(value) ? Number(value) : NaN;
      if (!Number.isSafeInteger(n)) {
        throw new UsageError(`${name}="${value}" is not a non-negative integer`);
      }
      if (n < min) throw new UsageError(`${name}="${value}" must be at least ${min}`);
      return n;
    }
    return undefined;
  }

  requireInt(names: string | readonly string[], why: string, min = 0): number {
    const n = this.int(names, min);
    if (n === undefined) {
      const list = typeof names === "string" ? names : names.join(" or ");
      throw new UsageError(`${list} must be set ${why}`);
    }
    return n;
  }

  port(name: string): number | undefined {
    const value = this.env[name];
    return value === undefined ? undefined : parsePort(value, name);
  }
}

/** What each method reads; {@link finish} validates it and applies the common overrides. */
type Draft = Omit<RankEnvironment, "hostname" | "bindAddress">;

function coordinator(host: string, port: number, portSource: CoordinatorInfo["portSource"], runsHere: boolean): CoordinatorInfo {
  return { host, port, portSource, runsHere };
}

/** `ZMPI_COORD_PORT` if set, else the method's own port. */
function portOr(v: Vars, fallback: () => { port: number; source: CoordinatorInfo["portSource"] }): { port: number; source: CoordinatorInfo["portSource"] } {
  const override = v.port(ZMPI_ENV.COORD_PORT);
  return override !== undefined ? { port: override, source: "ZMPI_COORD_PORT" } : fallback();
}

function fromZmpi(v: Vars, hostname: string): Draft {
  const why = "by zmpi launch";
  const rank = v.requireInt(ZMPI_ENV.RANK, why);
  const size = v.requireInt(ZMPI_ENV.SIZE, why, 1);
  const localRank = v.int(ZMPI_ENV.LOCAL_RANK) ?? rank;
  const localSize = v.int(ZMPI_ENV.LOCAL_SIZE, 1) ?? size;
  const nodeIndex = v.int(ZMPI_ENV.NODE_INDEX) ?? 0;
  const numNodes = v.int(ZMPI_ENV.NUM_NODES, 1) ?? 1;
  const nodeName = v.str(ZMPI_ENV.NODE_NAME) ?? hostname;
  const jobId = v.str(ZMPI_ENV.JOB_ID) ?? "local";
  const explicitPort = v.port(ZMPI_ENV.COORD_PORT);
  return {
    method: "zmpi",
    rank,
    size,
    localRank,
    localSize,
    nodeIndex,
    numNodes,
    nodeName,
    nodeList: numNodes === 1 ? [nodeName] : [],
    tasksPerNode: numNodes === 1 ? [localSize] : [],
    jobId,
    stepId: "0",
    cpusPerTask: null,
    coordinator: coordinator(
      v.str(ZMPI_ENV.COORD_ADDR) ?? LOOPBACK,
      explicitPort ?? deriveCoordinatorPort(jobId, "0"),
      explicitPort !== undefined ? "launcher" : "derived",
      rank === 0,
    ),
    warnings: [],
  };
}

const STEP_ID = ["SLURM_STEP_ID", "SLURM_STEPID"] as const;
const JOB_ID = ["SLURM_JOB_ID", "SLURM_JOBID"] as const;

function fromSlurmStep(v: Vars, hostname: string): Draft {
  const why = "in a Slurm job step (is this running under srun?)";
  const jobId = v.requireFirst(JOB_ID, why).value;
  const stepId = v.requireFirst(STEP_ID, "in a Slurm job step: this is not running under srun").value;
  const rank = v.requireInt("SLURM_PROCID", why);
  // Step values first: inside a batch job the job-level ones describe the whole allocation.
  const size = v.requireInt(["SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_NPROCS"], why, 1);
  const localRank = v.requireInt("SLURM_LOCALID", why);
  const nodeIndex = v.requireInt("SLURM_NODEID", why);
  const warnings: string[] = [];

  const listVar = v.requireFirst(["SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST"], why);
  const nodeList = withVarName(listVar.name, () => expandHostlist(listVar.value));
  const stepNodes = v.int("SLURM_STEP_NUM_NODES", 1);
  if (listVar.name === "SLURM_STEP_NODELIST") {
    if (stepNodes !== undefined && stepNodes !== nodeList.length) {
      throw new UsageError(`SLURM_STEP_NUM_NODES=${stepNodes} but SLURM_STEP_NODELIST="${listVar.value}" names ${nodeList.length} node(s)`);
    }
  } else {
    warnings.push(`zmpi: SLURM_STEP_NODELIST is not set; using ${listVar.name}="${listVar.value}" (the job's nodes, which may differ from this step's)`);
  }
  const numNodes = stepNodes ?? nodeList.length;

  const tpnVar = v.requireFirst(["SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE"], why);
  const tasksPerNode = parseTasksPerNode(tpnVar.value, tpnVar.name);
  if (tasksPerNode.length !== numNodes) {
    throw new UsageError(`${tpnVar.name}="${tpnVar.value}" lists ${tasksPerNode.length} node(s) but the step has ${numNodes}`);
  }
  const total = tasksPerNode.reduce((a, b) => a + b, 0);
  if (total !== size) {
    throw new UsageError(`${tpnVar.name}="${tpnVar.value}" adds up to ${total} task(s) but the step has ${size} (SLURM_STEP_NUM_TASKS/SLURM_NTASKS)`);
  }
  checkBelow("SLURM_NODEID", nodeIndex, "the number of nodes in the step", numNodes);

  const { port, source } = portOr(v, () => ({
    port: deriveCoordinatorPort(jobId, stepId),
    source: "derived",
  }));
  return {
    method: "slurm",
    rank,
    size,
    localRank,
    localSize: tasksPerNode[nodeIndex]!, // nodeIndex < numNodes === tasksPerNode.length (checked above)
    nodeIndex,
    numNodes,
    nodeName: v.str(ZMPI_ENV.NODE_NAME) ?? v.str("SLURMD_NODENAME") ?? hostname,
    nodeList,
    tasksPerNode,
    jobId,
    stepId,
    cpusPerTask: v.int("SLURM_CPUS_PER_TASK", 1) ?? null,
    // Task 0 of the first node, not rank 0: with an arbitrary distribution rank 0 may sit on
    // another node, but the coordinator address is nodeList[0].
    coordinator: coordinator(v.str(ZMPI_ENV.COORD_ADDR) ?? nodeList[0]!, port, source, nodeIndex === 0 && localRank === 0),
    warnings,
  };
}

function single(v: Vars, hostname: string, jobId: string, warnings: string[]): Draft {
  const nodeName = v.str(ZMPI_ENV.NODE_NAME) ?? hostname;
  const { port, source } = portOr(v, () => ({ port: 0, source: "none" }));
  return {
    method: "single",
    rank: 0,
    size: 1,
    localRank: 0,
    localSize: 1,
    nodeIndex: 0,
    numNodes: 1,
    nodeName,
    nodeList: [nodeName],
    tasksPerNode: [1],
    jobId,
    stepId: "0",
    cpusPerTask: null,
    coordinator: coordinator(v.str(ZMPI_ENV.COORD_ADDR) ?? LOOPBACK, port, source, true),
    warnings,
  };
}

function fromSlurmBatch(v: Vars, hostname: string): Draft {
  const jobId = v.requireFirst(JOB_ID, "").value;
  const ntasks = v.int(["SLURM_NTASKS", "SLURM_NPROCS"], 1);
  const howMany = ntasks === undefined ? "one rank per task" : `${ntasks} rank${ntasks === 1 ? "" : "s"}`;
  const warning =
    `zmpi: running inside a Slurm allocation (job ${jobId}) but not under srun: ` +
    `SLURM_PROCID/SLURM_NTASKS describe the batch script, not this program; ` +
    `starting a world of size 1. Use "srun node app.js" to start ${howMany}.`;
  const draft = single(v, v.str("SLURMD_NODENAME") ?? hostname, jobId, [warning]);
  // The batch script does get -c, and the worker pool should honour it.
  draft.cpusPerTask = v.int("SLURM_CPUS_PER_TASK", 1) ?? null;
  return draft;
}

/** Number of nodes when only the per-node count is known (assumes equal nodes). */
function guessNodes(size: number, localSize: number): number {
  return localSize >= size ? 1 : Math.ceil(size / localSize);
}

function fromOmpi(v: Vars, hostname: string): Draft {
  const why = "under Open MPI's mpirun";
  const rank = v.requireInt("OMPI_COMM_WORLD_RANK", why);
  const size = v.requireInt("OMPI_COMM_WORLD_SIZE", why, 1);
  const localRank = v.requireInt("OMPI_COMM_WORLD_LOCAL_RANK", why);
  const localSize = v.requireInt("OMPI_COMM_WORLD_LOCAL_SIZE", why, 1);
  const oneNode = localSize === size;
  // Open MPI exports no node index (OMPI_COMM_WORLD_NODE_RANK is a rank *within* the node), so
  // nodeIndex is 0 unless ZMPI_NODE_INDEX says otherwise; node grouping comes from rendezvous.
  const nodeIndex = v.int(ZMPI_ENV.NODE_INDEX) ?? 0;
  const numNodes = v.int(ZMPI_ENV.NUM_NODES, 1) ?? guessNodes(size, localSize);
  const nodeName = v.str(ZMPI_ENV.NODE_NAME) ?? hostname;
  const jobVar = v.first(["OMPI_MCA_ess_base_jobid", "PMIX_NAMESPACE"]);
  const jobId = jobVar?.value ?? "local";

  const host =
    v.str(ZMPI_ENV.COORD_ADDR) ??
    v.str("MASTER_ADDR") ??
    (oneNode
      ? LOOPBACK
      : fail(
          `Open MPI started ${size} ranks on several nodes (${localSize} on this one) and does not say ` +
            `which host rank 0 is on: set ZMPI_COORD_ADDR to rank 0's host (e.g. mpirun -x ZMPI_COORD_ADDR=$(hostname))`,
        ));
  const { port, source } = portOr(v, () => {
    const master = v.port("MASTER_PORT");
    if (master !== undefined) return { port: master, source: "MASTER_PORT" };
    if (!jobVar) {
      return fail(
        "Open MPI set neither OMPI_MCA_ess_base_jobid nor PMIX_NAMESPACE, so ranks cannot derive " +
          "a common coordinator port: set ZMPI_COORD_PORT (e.g. mpirun -x ZMPI_COORD_PORT=61234)",
      );
    }
    return { port: deriveCoordinatorPort(jobId, "0"), source: "derived" };
  });
  return {
    method: "ompi",
    rank,
    size,
    localRank,
    localSize,
    nodeIndex,
    numNodes,
    nodeName,
    nodeList: oneNode ? [nodeName] : [],
    tasksPerNode: oneNode ? [localSize] : [],
    jobId,
    stepId: "0",
    cpusPerTask: null,
    coordinator: coordinator(host, port, source, rank === 0),
    warnings: [],
  };
}

function fromTorchrun(v: Vars, hostname: string): Draft {
  const why = "under torchrun";
  const rank = v.requireInt("RANK", why);
  const size = v.requireInt("WORLD_SIZE", why, 1);
  // torchrun sets all of these; hand-written RANK/WORLD_SIZE setups often only set the first two.
  const localRank = v.int("LOCAL_RANK") ?? rank;
  const localSize = v.int("LOCAL_WORLD_SIZE", 1) ?? size;
  const oneNode = localSize === size;
  const nodeIndex = v.int("GROUP_RANK") ?? 0;
  const numNodes = v.int("GROUP_WORLD_SIZE", 1) ?? guessNodes(size, localSize);
  const nodeName = v.str(ZMPI_ENV.NODE_NAME) ?? hostname;
  const host =
    v.str(ZMPI_ENV.COORD_ADDR) ?? v.str("MASTER_ADDR") ?? (oneNode ? LOOPBACK : fail(`MASTER_ADDR (or ZMPI_COORD_ADDR) must be set when WORLD_SIZE=${size} spans nodes`));
  // zmpi's coordinator listens on MASTER_PORT itself, so a program that also starts a torch
  // TCPStore there must give zmpi another port with ZMPI_COORD_PORT.
  const { port, source } = portOr(v, () => {
    const master = v.port("MASTER_PORT");
    if (master === undefined) return fail("MASTER_PORT (or ZMPI_COORD_PORT) must be set under torchrun");
    return { port: master, source: "MASTER_PORT" };
  });
  return {
    method: "torchrun",
    rank,
    size,
    localRank,
    localSize,
    nodeIndex,
    numNodes,
    nodeName,
    nodeList: oneNode ? [nodeName] : [],
    tasksPerNode: oneNode ? [localSize] : [],
    jobId: v.str("TORCHELASTIC_RUN_ID") ?? "local",
    stepId: "0",
    cpusPerTask: null,
    coordinator: coordinator(host, port, source, rank === 0),
    warnings: [],
  };
}

function fail(message: string): never {
  throw new UsageError(message);
}

function withVarName<T>(name: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${name}: ${err.message}`);
    throw err;
  }
}

function checkBelow(name: string, value: number, what: string, limit: number): void {
  if (value >= limit) {
    throw new UsageError(`${name}=${value} is out of range: it must be below ${what} (${limit})`);
  }
}

/** Which method the variables describe, in the documented order. */
function autoDetect(v: Vars): Exclude<LaunchMethod, "memory"> | "slurm-batch" {
  if (v.has(ZMPI_ENV.RANK)) return "zmpi";
  if (STEP_ID.some((n) => v.has(n)) && v.has("SLURM_PROCID")) return "slurm";
  if (v.has("OMPI_COMM_WORLD_RANK")) return "ompi";
  if (v.has("RANK") && v.has("WORLD_SIZE")) return "torchrun";
  if (JOB_ID.some((n) => v.has(n))) return "slurm-batch";
  return "single";
}

function finish(v: Vars, draft: Draft, hostname: string): RankEnvironment {
  const names = variableNames(draft.method);
  checkBelow(names.rank, draft.rank, `the world size`, draft.size);
  checkBelow(names.localRank, draft.localRank, `the number of ranks on this node`, draft.localSize);
  checkBelow(names.nodeIndex, draft.nodeIndex, `the number of nodes`, draft.numNodes);
  if (draft.localSize > draft.size) {
    throw new UsageError(`${names.localSize}=${draft.localSize} ranks on this node is more than the world size ${draft.size}`);
  }
  return { ...draft, hostname, bindAddress: v.str(ZMPI_ENV.HOST_ADDR) ?? null };
}

/** Variable names used in validation errors, per method. */
function variableNames(method: LaunchMethod): {
  rank: string;
  localRank: string;
  localSize: string;
  nodeIndex: string;
} {
  switch (method) {
    case "slurm":
      return {
        rank: "SLURM_PROCID",
        localRank: "SLURM_LOCALID",
        localSize: "SLURM_STEP_TASKS_PER_NODE",
        nodeIndex: "SLURM_NODEID",
      };
    case "ompi":
      return {
        rank: "OMPI_COMM_WORLD_RANK",
        localRank: "OMPI_COMM_WORLD_LOCAL_RANK",
        localSize: "OMPI_COMM_WORLD_LOCAL_SIZE",
        nodeIndex: ZMPI_ENV.NODE_INDEX,
      };
    case "torchrun":
      return { rank: "RANK", localRank: "LOCAL_RANK", localSize: "LOCAL_WORLD_SIZE", nodeIndex: "GROUP_RANK" };
    default:
      return {
        rank: ZMPI_ENV.RANK,
        localRank: ZMPI_ENV.LOCAL_RANK,
        localSize: ZMPI_ENV.LOCAL_SIZE,
        nodeIndex: ZMPI_ENV.NODE_INDEX,
      };
  }
}

/**
 * Reads this process's place in the job from its environment.
 *
 * The method is `ZMPI_LAUNCHER` if set (`slurm`, `zmpi`, `torchrun`, `ompi`, `single`; `auto` or
 * empty means detect), else the first that matches:
 *
 * 1. `zmpi launch`: `ZMPI_RANK` is set (see {@link ZMPI_ENV} for the contract). Coordinator on rank 0.
 * 2. Slurm step: `SLURM_STEP_ID`/`SLURM_STEPID` and `SLURM_PROCID`. `SLURM_STEP_*` values win over
 *    job-level ones (a later step in a batch job keeps the job's node list). The coordinator is on
 *    the first node of the step's node list and runs in that node's local task 0; its port is
 *    {@link deriveCoordinatorPort}(job, step).
 * 3. Open MPI: `OMPI_COMM_WORLD_RANK`. Open MPI does not export a node index: `nodeIndex` is
 *    `ZMPI_NODE_INDEX` or 0, and `numNodes` is `ZMPI_NUM_NODES` or size ÷ local size rounded up.
 *    Coordinator host `ZMPI_COORD_ADDR`, `MASTER_ADDR`, or loopback when all ranks share this node
 *    (otherwise an error); port `ZMPI_COORD_PORT`, `MASTER_PORT`, or derived from
 *    `OMPI_MCA_ess_base_jobid`/`PMIX_NAMESPACE` with step `"0"`.
 * 4. torchrun: `RANK` and `WORLD_SIZE` (+ `LOCAL_RANK`, `LOCAL_WORLD_SIZE`, `GROUP_RANK`,
 *    `GROUP_WORLD_SIZE`). Coordinator at `MASTER_ADDR`:`MASTER_PORT` (loopback when one node).
 *    zmpi listens on `MASTER_PORT` itself, so it must not be shared with a torch TCPStore in the
 *    same program: give zmpi another with `ZMPI_COORD_PORT`.
 * 5. Slurm batch script (a job id but no step id): a world of size 1 with a warning, because
 *    `SLURM_PROCID=0`/`SLURM_NTASKS` there describe the script, not a step of this program.
 * 6. Otherwise a world of size 1 (port 0, `portSource` `"none"`).
 *
 * Under every method `ZMPI_COORD_ADDR`, `ZMPI_COORD_PORT`, `ZMPI_NODE_NAME` and `ZMPI_HOST_ADDR`
 * (the data socket's bind address) override what the launcher says.
 *
 * @param env the variables (default `process.env`).
 * @param opts `hostname` replaces `os.hostname()`.
 * @throws UsageError naming the variable and quoting its value for any malformed integer, port or
 *   hostlist, missing required variable, or inconsistent layout (rank ≥ size, local rank ≥ local
 *   size, node index ≥ node count, tasks per node not adding up to the size).
 */
export function detectEnvironment(env: EnvVars = process.env, opts: DetectOptions = {}): RankEnvironment {
  const v = new Vars(env);
  const hostname = opts.hostname ?? osHostname();
  const forced = env[ZMPI_ENV.LAUNCHER];
  // "memory" is never read from an environment: only memoryWorld() (zmpi/testing) makes such ranks.
  let method: Exclude<LaunchMethod, "memory"> | "slurm-batch";
  if (forced === undefined || forced === "" || forced === "auto") {
    method = autoDetect(v);
  } else if ((METHODS as readonly string[]).includes(forced)) {
    method = forced as Exclude<LaunchMethod, "memory">;
  } else {
    throw new UsageError(`ZMPI_LAUNCHER="${forced}" is not one of auto, ${METHODS.join(", ")}`);
  }
  let draft: Draft;
  switch (method) {
    case "zmpi":
      draft = fromZmpi(v, hostname);
      break;
    case "slurm":
      draft = fromSlurmStep(v, hostname);
      break;
    case "ompi":
      draft = fromOmpi(v, hostname);
      break;
    case "torchrun":
      draft = fromTorchrun(v, hostname);
      break;
    case "slurm-batch":
      draft = fromSlurmBatch(v, hostname);
      break;
    case "single":
      draft = single(v, hostname, "local", []);
      break;
  }
  return finish(v, draft, hostname);
}
