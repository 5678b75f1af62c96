/**
 * Backend selection: the WASM SIMD kernels when this runtime validates SIMD and kernels.wasm
 * compiles, else the plain-JS kernels. `ZMPI_KERNELS=js` forces JS; `ZMPI_KERNELS=wasm` makes a
 * missing WASM backend an error instead of a silent fallback.
 */
import { readSetting, SETTINGS } from "../env/settings.js";
import { UsageError } from "../errors.js";
import { jsKernels } from "./js-kernels.js";
import { computeMemory } from "./memory.js";
import type { BackendName, KernelBackend } from "./types.js";
import { instantiateKernels, loadKernelModule } from "./wasm-loader.js";
import { WasmKernels } from "./wasm-kernels.js";

/** The active backend and why it was chosen. */
export interface KernelsInfo {
  /** The backend the module-level kernels use in this thread. */
  readonly backend: KernelBackend;
  /** `"wasm-simd"` or `"js"`. */
  readonly name: BackendName;
  /** Why JS was chosen (`null` when WASM is active). */
  readonly reason: string | null;
}

let active: KernelsInfo | undefined;

/** Which backend `ZMPI_KERNELS` asks for: "js", "wasm" or "auto" (default). */
export function requestedBackend(env: NodeJS.ProcessEnv = process.env): "js" | "wasm" | "auto" {
  const k = readSetting(SETTINGS.kernels, env);
  return k === "wasm-simd" ? "wasm" : k;
}

/**
 * The kernel backend of this thread, chosen on first call: `"wasm-simd"` unless WASM SIMD is
 * unavailable or `ZMPI_KERNELS=js`.
 */
export function kernels(): KernelsInfo {
  if (active) return active;
  const want = requestedBackend();
  if (want === "js") {
    active = { backend: jsKernels, name: "js", reason: "ZMPI_KERNELS=js" };
    return active;
  }
  const loaded = loadKernelModule();
  if (loaded.module === null) {
    if (want === "wasm") throw new UsageError(`ZMPI_KERNELS=wasm but ${loaded.reason}`, { op: "kernels" });
    active = { backend: jsKernels, name: "js", reason: loaded.reason };
    return active;
  }
  const mem = computeMemory();
  const backend = new WasmKernels(instantiateKernels(loaded.module, mem.memory), mem);
  active = { backend, name: "wasm-simd", reason: null };
  return active;
}

/** The JS backend (always available; tests use it to compare both backends). */
export function jsBackend(): KernelBackend {
  return jsKernels;
}

/** The WASM backend regardless of `ZMPI_KERNELS`, or null when it cannot load. */
export function wasmBackend(): WasmKernels | null {
  const k = kernels();
  if (k.backend instanceof WasmKernels) return k.backend;
  const loaded = loadKernelModule();
  if (loaded.module === null) return null;
  wasmOnly ??= new WasmKernels(instantiateKernels(loaded.module, computeMemory().memory), computeMemory());
  return wasmOnly;
}
let wasmOnly: WasmKernels | undefined;
