/** Messages between the pool (main thread) and its workers. Pointers are byte offsets into the shared compute memory. */
import type { WasmMemory, WasmModule } from "./wasm-api.js";
import type { Dtype, FoldOp, ReduceOp } from "./types.js";

/** What every worker is started with. */
export interface WorkerInit {
  /** Compiled kernels (shared optimised code), or null for the JS backend. */
  module: WasmModule | null;
  /** The rank's shared compute memory. */
  memory: WasmMemory;
  /** This worker's own GEMM workspace in `memory` (0 for the JS backend). */
  workspace: number;
  /** Worker slot index (for error messages). */
  index: number;
}

/** A slice of a parallel kernel, run on views of the shared memory. */
export type KernelTask =
  | { kind: "reduce"; op: ReduceOp; dtype: Dtype; d: number; s: number; n: number }
  | { kind: "fold"; op: FoldOp; dtype: Dtype; p: number; n: number }
  | { kind: "dot"; dtype: "f64" | "f32"; x: number; y: number; n: number }
  | { kind: "axpy"; dtype: "f64" | "f32"; alpha: number; x: number; y: number; n: number }
  | { kind: "scale"; dtype: "f64" | "f32"; alpha: number; x: number; n: number }
  | { kind: "gemm"; dtype: "f64" | "f32"; m: number; n: number; k: number; alpha: number; a: number; b: number; beta: number; c: number };

export type ToWorker = { t: "kernel"; id: number; task: KernelTask } | { t: "call"; id: number; url: string; name: string; arg: unknown };

/** An error as it crosses the thread boundary (the stack is kept verbatim). */
export interface WireError {
  name: string;
  message: string;
  stack: string | undefined;
}

export type FromWorker = { t: "ready" } | { t: "ok"; id: number; value: unknown } | { t: "err"; id: number; error: WireError };
