/**
 * zmpi compute: WASM SIMD kernels (with a bit-identical plain-JS fallback), the `reduceInto`
 * seam the collectives use, and a worker pool over shared WebAssembly memory.
 */
export { kernels, requestedBackend, type KernelsInfo } from "./backend.js";
export { axpy, scale, dot, sum, reduce, gemm, transpose } from "./blas.js";
export { reduceInto, SMALL as REDUCE_INTO_JS_BELOW } from "./reduce-into.js";
export { ComputePool, createPool, WorkerExitedError, type PoolOptions } from "./pool.js";
export { resolvePoolSize, type PoolSizeOptions } from "./pool-size.js";
export { computeMemory, ComputeMemory, type TypedArrayConstructor, type InstanceOf } from "./memory.js";
export {
  REDUCE_OPS,
  GEMM_KC,
  type ReduceOp,
  type FoldOp,
  type FloatArray,
  type KernelArray,
  type IntegerArray,
  type BigIntArray,
  type ReducibleArray,
  type Dtype,
  type BackendName,
  type GemmOptions,
  type KernelBackend,
} from "./types.js";
