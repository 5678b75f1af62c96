/**
 * SVGD's per-row work, run in pool workers on views of the rank's shared memory (or on the
 * calling thread): squared distances of this rank's particles to all particles, and the update
 * direction φ of each of them. Every row is a fixed-order loop over all N particles, so a row's
 * result does not depend on which rank or worker computes it.
 */

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
}

/** φ rows: `φ_i = (1/n) Σ_j k_ij (∇log p(x_j) + (2/h)(x_i − x_j))`, `k_ij = exp(−D_ij / h)`. */
export interface PhiTask extends DistanceTask {
  /** ∇log p of all particles, n × dim. */
  G: Float64Array;
  /** Output, rows × dim. */
  Phi: Float64Array;
  /** Bandwidth. */
  h: number;
}

export function distances(t: DistanceTask): void {
  const { X, D, n, dim, row0, rows } = t;
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
  const twoOverH = 2 / h;
  const acc = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    const xi = (row0 + r) * dim;
    acc.fill(0);
    for (let j = 0; j < n; j++) {
      const k = Math.exp(-D[r * n + j]! / h);
      const xj = j * dim;
      for (let c = 0; c < dim; c++) acc[c]! += k * (G[xj + c]! + twoOverH * (X[xi + c]! - X[xj + c]!));
    }
    for (let c = 0; c < dim; c++) Phi[r * dim + c] = acc[c]! / n;
  }
}
