/**
 * zmpi: an MPI-style distributed runtime for Node.js over ZeroMQ.
 *
 * ```ts
 * import { init } from "zmpi";
 * const world = await init();
 * world.log.info(`rank ${world.rank} of ${world.size}`);
 * await world.finalize();
 * ```
 *
 * This module exports what programs name: `init` and the `World`, communicators and meshes, their
 * option and result types, reduction ops, requests, errors, and what `world.pool()`,
 * `world.farm()`, `world.results()`, `world.rng()` and `world.ensemble()` hand back. The layers
 * under them are not exported. Subpaths: `zmpi/env` (launcher detection, Slurm hostlists, the
 * settings table), `zmpi/testing` (in-process worlds and real local jobs for users' tests),
 * `zmpi/experiments` (experiment configs and runs).
 * @packageDocumentation
 */
export { init, type InitOptions } from "./world/init.js";
export { World, type FinalizeOptions } from "./world/world.js";
export { Logger, type LogLevel } from "./world/logger.js";
export { Communicator, UNDEFINED } from "./groups/communicator.js";
export { Mesh, type MeshOptions } from "./groups/mesh.js";
export { meshFromEnv, meshSpecFromEnv, type MeshSpec, type MeshEnvOptions, type Placement, type ObservedPlacement } from "./groups/mesh-env.js";
export { Op, type ReduceFn, type OpOptions } from "./collectives/op.js";
export { ALGORITHMS, THRESHOLDS, type CollectiveName, type Threshold } from "./collectives/select.js";
export type { CollectiveOptions, OutOptions } from "./collectives/collective-communicator.js";
export type {
  SendOptions,
  RecvOptions,
  ProbeOptions,
  SendrecvOptions,
  SendrecvReplaceOptions,
  Status,
  Received,
} from "./comm/communicator.js";
export { Request, waitAll, waitAny, waitSome, testAll, testAny, testSome, type TestResult, type AnyResult, type TestAnyResult, type SomeResult } from "./comm/request.js";
export { ANY_SOURCE, ANY_TAG, PROC_NULL } from "./comm/matching.js";
export { MAX_TAG } from "./transport/frame.js";
export type { TypedArray, TypedArrayConstructor } from "./transport/dtype.js";
export type { TransportStats } from "./transport/transport.js";
export { singleCopySupport } from "./transport/cma.js";
export {
  ZmpiError,
  UsageError,
  TimeoutError,
  RankFailedError,
  CollectiveMismatchError,
  RendezvousError,
  type ErrorContext,
} from "./errors.js";
export type { RankEnvironment, LaunchMethod, CoordinatorInfo } from "./env/types.js";
export type { MetricsOptions } from "./world/world.js";
export type { DiskSpace } from "./results/metrics.js";
export { Rng, createRng, type RngState, type RngKey, type RngSeed } from "./rng/index.js";
export { WorkerExitedError, type ComputePool, type MapOptions, type PoolOptions } from "./compute/pool.js";
export { Ensemble, StateContext, type EnsembleOptions } from "./ensemble/index.js";
export { advise, detectResources, type Advice, type Check, type Layout, type Problem, type Resources } from "./ensemble/index.js";
export { ParticleSet, Svgd, selectKth, shardCounts, type ParticleSetOptions, type SvgdOptions, type SvgdStepInfo, type GradTask } from "./particles/index.js";
export {
  ResultsWriter,
  ResultsWriteError,
  type ResultsFormat,
  type ResultsOptions,
  type FlushResult,
  type ColumnType,
  type Row,
  type ManifestData,
  type ManifestOutput,
  type ManifestCheckpoint,
  type ManifestVersion,
  type RunStatus,
  formatMetricsTable,
  type RankMetrics,
  type MetricsReport,
  type HostContext,
  Farm,
  type FarmOptions,
  TaskFuture,
  type FutureState,
  TaskError,
  TaskDependencyError,
  type TaskErrorInfo,
  type TaskContext,
  type SubmitOptions,
  type FarmSummary,
  type ResultsSink,
  type ProgressMode,
} from "./results/index.js";
