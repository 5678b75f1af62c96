/** The env layer: who am I, where is the coordinator, what is the job secret. */

export type { CoordinatorInfo, LaunchMethod, RankEnvironment } from "./types.js";
export { MAX_HOSTLIST_HOSTS, compressHostlist, expandHostlist } from "./hostlist.js";
export { parseTasksPerNode } from "./tasks-per-node.js";
export {
  COORD_PORT_BASE,
  COORD_PORT_JOBS,
  COORD_PORT_STEPS,
  deriveCoordinatorPort,
  fnv1a32,
  parsePort,
} from "./coord-port.js";
export { ZMPI_ENV, detectEnvironment } from "./detect.js";
export type { DetectOptions, EnvVars } from "./detect.js";
export { MIN_SECRET_LENGTH, resolveSecret } from "./secret.js";
export type { ResolvedSecret, SecretOptions } from "./secret.js";
export { resolveHostAddress } from "./resolve.js";
