// The target of examples/svgd.ts: a 2-D mixture of three Gaussians. Its gradient runs in pool
// workers, so this module is plain JS (types in svgd-target.d.mts).

/** Mode centres, weights and the common sd. */
export const MODES = [
  [-2, 0],
  [2, 1],
  [0.5, -2.5],
];
export const WEIGHTS = [0.5, 0.3, 0.2];
export const SD = 0.6;
const LOG_W = WEIGHTS.map(Math.log);

/** log p(x) up to a constant. */
export function logP(x0, x1) {
  const terms = MODES.map(([a, b], m) => LOG_W[m] - ((x0 - a) ** 2 + (x1 - b) ** 2) / (2 * SD * SD));
  const top = Math.max(...terms);
  return top + Math.log(terms.reduce((s, t) => s + Math.exp(t - top), 0));
}

/** The pool task: ∇log p of rows of particles, written into task.g (views of shared memory). */
export function gradLogP({ x, g, rows }) {
  const r = new Float64Array(MODES.length);
  for (let i = 0; i < rows; i++) {
    const x0 = x[2 * i];
    const x1 = x[2 * i + 1];
    let top = -Infinity;
    for (let m = 0; m < MODES.length; m++) {
      r[m] = LOG_W[m] - ((x0 - MODES[m][0]) ** 2 + (x1 - MODES[m][1]) ** 2) / (2 * SD * SD);
      if (r[m] > top) top = r[m];
    }
    let z = 0;
    for (let m = 0; m < MODES.length; m++) z += r[m] = Math.exp(r[m] - top);
    let g0 = 0;
    let g1 = 0;
    for (let m = 0; m < MODES.length; m++) {
      g0 += (r[m] / z) * (MODES[m][0] - x0);
      g1 += (r[m] / z) * (MODES[m][1] - x1);
    }
    g[2 * i] = g0 / (SD * SD);
    g[2 * i + 1] = g1 / (SD * SD);
  }
}
