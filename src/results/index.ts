/**
 * Results layer: the root-only table writer (JSONL, CSV, Parquet), atomic publishing and
 * checkpoints, the manifest, per-rank metrics, and the task farm.
 */
export { ResultsWriter, resolveOutput, type ResultsFormat, type ResultsOptions, type FlushResult, type ResultsHooks } from "./results.js";
export { ResultsWriteError } from "./write-error.js";
export type { ColumnType, Row } from "./schema.js";
export { Manifest, type ManifestData, type ManifestOutput, type ManifestCheckpoint, type ManifestVersion, type RunStatus } from "./manifest.js";
export {
  collectRankMetrics,
  gatherMetrics,
  buildReport,
  writeMetrics,
  formatMetricsTable,
  hostContext,
  type RankMetrics,
  type MetricsReport,
  type HostContext,
  type MetricsSource,
} from "./metrics.js";
export { Farm, type FarmOptions } from "./farm/farm.js";
export { TaskFuture, type FutureState } from "./farm/future.js";
export { TaskError, TaskDependencyError, type TaskErrorInfo } from "./farm/errors.js";
export type { TaskContext } from "./farm/run-task.js";
export type { SubmitOptions, FarmSummary, ResultsSink } from "./farm/master.js";
export type { ProgressMode } from "./progress.js";
