/** How the ranks of this job were started (`memory`: all in one process, by `memoryWorld` from `zmpi/testing`). */
export type LaunchMethod = "slurm" | "zmpi" | "torchrun" | "ompi" | "single" | "memory";

/** Where the coordinator (rendezvous service) listens and whether this process runs it. */
export interface CoordinatorInfo {
  /** Host name or address ranks connect to (first host of the step's node list under Slurm). */
  host: string;
  /** TCP port. */
  port: number;
  /** Where the port came from: derived from job/step ids, an env override, or the launcher. */
  portSource: "derived" | "ZMPI_COORD_PORT" | "MASTER_PORT" | "launcher" | "none";
  /** True on the one process that runs the coordinator service. */
  runsHere: boolean;
}

/** Everything a rank learns from its environment before talking to anyone. */
export interface RankEnvironment {
  /** Which launcher's variables were used. */
  method: LaunchMethod;
  /** This process's rank in the world, 0-based. */
  rank: number;
  /** Number of ranks in the world. */
  size: number;
  /** Rank among the processes on this node. */
  localRank: number;
  /** Number of ranks on this node (best known; 1 for a world of size 1). */
  localSize: number;
  /** Index of this node in the job step's node list, 0-based. */
  nodeIndex: number;
  /** Number of nodes in the step. */
  numNodes: number;
  /** This node's name (`SLURMD_NODENAME` under Slurm; `os.hostname()` otherwise). */
  nodeName: string;
  /** `os.hostname()`. */
  hostname: string;
  /** The step's node list, expanded (empty when the launcher does not say). */
  nodeList: string[];
  /** Tasks on each node of `nodeList`, expanded (empty when unknown). */
  tasksPerNode: number[];
  /** Job id (a string: Slurm's id, the launcher's random id, or `"local"`). */
  jobId: string;
  /** Step id (Slurm's `SLURM_STEP_ID`; `"0"` elsewhere). */
  stepId: string;
  /** CPUs allotted to this task (`SLURM_CPUS_PER_TASK`), or null when the launcher does not say. */
  cpusPerTask: number | null;
  /** Rendezvous coordinator. */
  coordinator: CoordinatorInfo;
  /** Address this rank should bind its data socket to, when overridden (`ZMPI_HOST_ADDR`). */
  bindAddress: string | null;
  /** Things the user should know (e.g. "batch script outside srun: world of size 1"). */
  warnings: string[];
}
