// The toy trans-dimensional problem of examples/ensemble-sampler.ts: which polynomial degree
// (state 0..3 = degree 0..3, dimension 1..4) explains noisy data from a quadratic? Each state's
// log-posterior is evaluated in pool workers, so this module is plain JS (workers load it as is;
// types in ensemble-model.d.mts). The data come from a fixed stream: the same in every thread.
import { createRng } from "zmpi";

export const N_DATA = 400;
export const SIGMA = 0.3; // noise sd (known)
export const PRIOR_SD = 2; // each coefficient ~ N(0, PRIOR_SD²)
const LOG_2PI = 1.8378770664093453;
const LOG_SIGMA = -1.2039728043259361; // ln 0.3
const LOG_PRIOR_SD = Math.LN2;

/** x in [-1, 1], y = 0.5 - 1.2x + 0.8x² + noise. */
export const data = (() => {
  const x = new Float64Array(N_DATA);
  const y = new Float64Array(N_DATA);
  const noise = createRng("zmpi-example", "ensemble-sampler", "data").fillNormal(new Float64Array(N_DATA), 0, SIGMA);
  for (let i = 0; i < N_DATA; i++) {
    x[i] = -1 + (2 * i) / (N_DATA - 1);
    y[i] = 0.5 - 1.2 * x[i] + 0.8 * x[i] * x[i] + noise[i];
  }
  return { x, y };
})();

/** log p(y | θ): Gaussian noise around the polynomial Σ θ_k x^k. */
export function logLike(theta) {
  let ss = 0;
  for (let i = 0; i < N_DATA; i++) {
    let f = 0;
    for (let k = theta.length - 1; k >= 0; k--) f = f * data.x[i] + theta[k];
    const r = data.y[i] - f;
    ss += r * r;
  }
  return (-0.5 * ss) / (SIGMA * SIGMA) - N_DATA * (LOG_SIGMA + 0.5 * LOG_2PI);
}

/** log p(θ) under the independent Gaussian prior. */
export function logPrior(theta) {
  let s = 0;
  for (const t of theta) s += t * t;
  return (-0.5 * s) / (PRIOR_SD * PRIOR_SD) - theta.length * (LOG_PRIOR_SD + 0.5 * LOG_2PI);
}

/** The pool task: log p(θ) + log p(y | θ) of one walker. */
export function logProb({ theta }) {
  return logPrior(theta) + logLike(theta);
}
