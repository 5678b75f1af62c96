/**
 * SVGD's per-row work, run in pool workers on views of the rank's shared memory (or on the
 * calling thread): squared distances of this rank's particles to all particles, and the update
 * direction φ of each of them. Every row is a fixed-order loop over all N particles, so a row's
 * result does not depend on which rank or worker computes it.
 *
 * With the rank's WebAssembly.Memory in the task, the WASM SIMD kernels (src/compute/kernels/
 * svgd.ts) do the work on pointers into it; these JS loops are their mirror, operation for
 * operation (two particles at a time, even ones summed apart from odd ones, our own exp), so both
 * give the same bits and `ZMPI_KERNELS=js` changes nothing but the speed.
 */
import { requestedBackend } from "../compute/backend.js";
import type { WasmMemory } from "../compute/wasm-api.js";
import { instantiateKernels, loadKernelModule } from "../compute/wasm-loader.js";
import { expNeg } from "./exp.js";

type Fn = (...args: number[]) => void;
const instances = new WeakMap<object, { dist: Fn; phi: Fn } | null>();

/** The kernels instantiated on `memory` in this thread (cached), or null for the JS path. */
function wasmOn(memory: WasmMemory | undefined): { dist: Fn; phi: Fn } | null {
  if (!memory || requestedBackend() === "js") return null;
  let k = instances.get(memory);
  if (k === undefined) {
    const mod = loadKernelModule().module;
    const ex = mod ? (instantiateKernels(mod, memory) as Record<string, Fn>) : null;
    k = ex && typeof ex.svgd_dist === "function" && typeof ex.svgd_phi === "function" ? { dist: ex.svgd_dist, phi: ex.svgd_phi } : null;
    instances.set(memory, k);
  }
  return k;
}

/** Rows of D: `D[r·n + j] = ‖x_i − x_j‖²` for global rows i = row0 + r. */
export interface DistanceTask {
  /** All particles, n × dim. */
  X: Float64Array;
  /** Output rows, rows × n. */
  D: Float64Array;
  n: number;
  dim: number;
  row0: number;
  rows: number;
  /** The memory the arrays are views of: use the WASM kernels on it. */
  memory?: WasmMemory;
}

/** φ rows: `φ_i = (1/n) Σ_j k_ij (∇log p(x_j) + (2/h)(x_i − x_j))`, `k_ij = exp(−D_ij / h)`. */
export interface PhiTask extends DistanceTask {
  /** ∇log p of all particles, n × dim. */
  G: Float64Array;
  /** Output, rows × dim. */
  Phi: Float64Array;
  /** Bandwidth. */
  h: number;
  /** Scratch for the WASM kernel's sums, 2·dim doubles in `memory`. */
  acc?: Float64Array;
}

export function distances(t: DistanceTask): void {
  const { X, D, n, dim, row0, rows } = t;
  const k = wasmOn(t.memory);
  if (k) return void k.dist(X.byteOffset, D.byteOffset, n, dim, row0, rows);
  for (let r = 0; r < rows; r++) {
    const xi = (row0 + r) * dim;
    const out = r * n;
    for (let j = 0; j < n; j++) {
      const xj = j * dim;
      let s = 0;
      for (let c = 0; c < dim; c++) {
        const v = X[xi + c]! - X[xj + c]!;
        s += v * v;
      }
      D[out + j] = s;
    }
  }
}

export function phiRows(t: PhiTask): void {
  const { X, G, D, Phi, n, dim, row0, rows, h } = t;
  const k = wasmOn(t.memory);
  if (k && t.acc && t.acc.length >= 2 * dim) return void k.phi(X.byteOffset, G.byteOffset, D.byteOffset, Phi.byteOffset, n, dim, row0, rows, h, t.acc.byteOffset);
  const twoOverH = 2 / h;
  const even = new Float64Array(dim);
  const odd = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    const xi = (row0 + r) * dim;
    even.fill(0);
    odd.fill(0);
    for (let j = 0; j < n; j += 2) {
      const ke = expNeg(-D[r * n + j]! / h);
      const xe = j * dim;
      for (let c = 0; c < dim; c++) even[c]! += ke * (G[xe + c]! + twoOverH * (X[xi + c]! - X[xe + c]!));
      if (j + 1 === n) break;
      const ko = expNeg(-D[r * n + j + 1]! / h);
      const xo = xe + dim;
      for (let c = 0; c < dim; c++) odd[c]! += ko * (G[xo + c]! + twoOverH * (X[xi + c]! - X[xo + c]!));
    }
    for (let c = 0; c < dim; c++) Phi[r * dim + c] = (even[c]! + odd[c]!) / n;
  }
}
