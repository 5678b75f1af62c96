/**
 * `zmpi/env`: the environment layer on its own, for tools and tests that look at a job without
 * joining it: which launcher started this process and where its coordinator is, Slurm hostlists
 * and task counts, the coordinator port a job step derives, and the table of `ZMPI_*` settings.
 *
 * ```ts
 * import { detectEnvironment, expandHostlist } from "zmpi/env";
 * const env = detectEnvironment(); // throws a UsageError naming the variable that does not fit
 * console.log(env.method, env.rank, expandHostlist("n[1-3]"));
 * ```
 * @packageDocumentation
 */
export { detectEnvironment, type DetectOptions, type EnvVars } from "./detect.js";
export { expandHostlist, compressHostlist, MAX_HOSTLIST_HOSTS } from "./hostlist.js";
export { parseTasksPerNode } from "./tasks-per-node.js";
export { deriveCoordinatorPort } from "./coord-port.js";
export type { RankEnvironment, LaunchMethod, CoordinatorInfo } from "./types.js";
export { SETTINGS, OTHER_SETTINGS, readSettings, readSetting, type Settings, type SettingSpec, type SettingDoc, type SettingSource, type SettingsEnv } from "./settings.js";
