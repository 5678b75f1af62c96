/**
 * Finds, compiles and instantiates the WASM SIMD kernels (`kernels.wasm`, built from
 * `src/compute/kernels/` by `npm run build:wasm`).
 *
 * Tier-up: V8 (Node 20) compiles wasm lazily with Liftoff and tiers up to TurboFan only after a
 * budget of calls, so the first GEMM calls ran 2–4× slow. We compile eagerly with TurboFan by
 * turning off `--liftoff` and `--wasm-lazy-compilation` just around our one compile and turning
 * them back on afterwards (flags are process-wide, so leaving them off would change every other
 * module's compile). The compiled module is then posted to the pool's workers, which share its
 * optimised code.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import { wasm, wasmApi, type WasmMemory, type WasmModule } from "./wasm-api.js";

/** Exports of kernels.wasm (all pointers are byte offsets into the imported memory). */
export interface KernelExports {
  [name: string]: (...args: number[]) => number | undefined;
}

/** Why the WASM backend is not used, or null when it is available. */
interface WasmLoadResult {
  module: WasmModule | null;
  reason: string | null;
  path: string | null;
}

/** The package root: the nearest ancestor of this file with a package.json (works from src/ and dist/src/). */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
}

/** Where kernels.wasm lives: next to this module if a build copied it there, else src/compute/ under the package root. */
function wasmPath(): string {
  const here = join(dirname(fileURLToPath(import.meta.url)), "kernels.wasm");
  if (existsSync(here)) return here;
  return join(packageRoot(), "src", "compute", "kernels.wasm");
}

// Smallest module using a v128 instruction: (func (result v128) v128.const 0). Validates only with SIMD.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11]);

/** True when this runtime validates WASM SIMD (v128). */
function simdSupported(): boolean {
  try {
    return wasmApi?.validate(SIMD_PROBE) ?? false;
  } catch {
    return false;
  }
}

function withEagerTurbofan<T>(fn: () => T): T {
  // Only flip flags that are at their defaults; a user who started node with --no-liftoff keeps it.
  const argv = process.execArgv.join(" ");
  const touch = !argv.includes("liftoff") && !argv.includes("wasm-lazy-compilation");
  if (touch) {
    v8.setFlagsFromString("--no-liftoff");
    v8.setFlagsFromString("--no-wasm-lazy-compilation");
  }
  try {
    return fn();
  } finally {
    if (touch) {
      v8.setFlagsFromString("--liftoff");
      v8.setFlagsFromString("--wasm-lazy-compilation");
    }
  }
}

let cached: WasmLoadResult | undefined;

/** Compile kernels.wasm once per thread (eagerly optimised). Never throws: failures give a reason. */
export function loadKernelModule(): WasmLoadResult {
  if (cached) return cached;
  if (!simdSupported()) {
    cached = { module: null, reason: "WebAssembly SIMD is not supported by this runtime", path: null };
    return cached;
  }
  let path: string | null = null;
  try {
    path = wasmPath();
    if (!existsSync(path)) {
      cached = { module: null, reason: `${path} is missing (run npm run build:wasm)`, path };
      return cached;
    }
    const bytes = readFileSync(path);
    const module = withEagerTurbofan(() => new (wasm().Module)(bytes));
    cached = { module, reason: null, path };
    return cached;
  } catch (e) {
    cached = { module: null, reason: `cannot compile ${path ?? "kernels.wasm"}: ${(e as Error).message}`, path };
    return cached;
  }
}

/** Instantiate the kernels on `memory` (shared). Cheap: no data segments, no start function. */
export function instantiateKernels(module: WasmModule, memory: WasmMemory): KernelExports {
  const inst = new (wasm().Instance)(module, { env: { memory } });
  return inst.exports as unknown as KernelExports;
}
