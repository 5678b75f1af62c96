/**
 * The WASM SIMD side of the generator: our own instance of kernels.wasm on this thread's compute
 * memory (the same compiled module the kernels use), and a staging region in that memory for
 * arrays that live outside it. `null` when WASM SIMD is unavailable or `ZMPI_KERNELS=js`; the JS
 * path then gives the same bits.
 */
import { requestedBackend } from "../compute/backend.js";
import { computeMemory, type ComputeMemory } from "../compute/memory.js";
import { instantiateKernels, loadKernelModule } from "../compute/wasm-loader.js";

type Fn = (...args: number[]) => number | undefined;

/** Bytes of the staging region: 64 KiB stays in L2 between the kernel's store and the copy out. */
export const STAGE_BYTES = 64 * 1024;

/** What the fill code needs from the kernels. */
export interface RngKernels {
  readonly mem: ComputeMemory;
  /** See philox_fill in src/compute/kernels/philox.ts. */
  fill(dst: number, nblocks: number, k0: number, k1: number, s0: number, s1: number, blo: number, bhi: number, mode: number): void;
  /** Box–Muller in place on `npairs` word pairs at `p`. */
  normal(p: number, npairs: number, mean: number, sd: number): void;
  /** Pointer of this thread's staging region (STAGE_BYTES). */
  stage(): number;
}

let cached: RngKernels | null | undefined;

/** The kernels of this thread, or null (then use the JS path). */
export function rngKernels(): RngKernels | null {
  if (cached !== undefined) return cached;
  if (requestedBackend() === "js") {
    cached = null;
    return cached;
  }
  const loaded = loadKernelModule();
  if (!loaded.module) {
    cached = null;
    return cached;
  }
  const mem = computeMemory();
  const ex = instantiateKernels(loaded.module, mem.memory) as Record<string, Fn>;
  const fill = ex.philox_fill;
  const normal = ex.normal_f64;
  if (typeof fill !== "function" || typeof normal !== "function") {
    cached = null; // an old kernels.wasm
    return cached;
  }
  let stagePtr = 0;
  cached = {
    mem,
    fill: fill as RngKernels["fill"],
    normal: normal as RngKernels["normal"],
    stage: () => (stagePtr ||= mem.alloc(STAGE_BYTES)),
  };
  return cached;
}

/** Forget the cached choice (tests switch `ZMPI_KERNELS`). */
export function resetRngKernels(): void {
  cached = undefined;
}
