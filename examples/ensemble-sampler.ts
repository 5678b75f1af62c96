// An affine-invariant ensemble sampler (Goodman & Weare's stretch move, as in emcee) over the
// states of a trans-dimensional toy problem (polynomial degree 0..3 for noisy quadratic data),
// on states × walkers: states are dealt to state groups of ranks, each state's walkers are
// evaluated on its group's ranks and their compute pools (reused for every step), and rank 0
// writes one summary row per state, with each degree's evidence and posterior probability.
//   npx zmpi launch -n 4 examples/ensemble-sampler.ts /tmp/zmpi-ens --groups 2
//   srun -N2 --ntasks-per-node=2 -c 2 node --import tsx examples/ensemble-sampler.ts /tmp/zmpi-ens
// Output: <out-dir>/ensemble.jsonl, identical for any rank count, group count and pool size.
import { join } from "node:path";
import { parseArgs } from "node:util";
import { init, type StateContext } from "zmpi";
import { data, logLike, logPrior, N_DATA, PRIOR_SD, SIGMA } from "./ensemble-model.mjs";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { groups: { type: "string" }, steps: { type: "string", default: "400" }, walkers: { type: "string", default: "32" } },
});
const outDir = positionals[0] ?? "ensemble-out";
const STATES = 4; // degree 0..3
const steps = Number(values.steps);
const burn = Math.floor(steps / 2);
const model = new URL("./ensemble-model.mjs", import.meta.url);
const A = 2; // stretch scale, Goodman & Weare's default

const world = await init();
const ens = await world.ensemble({ states: STATES, walkers: Number(values.walkers), groups: values.groups ? Number(values.groups) : undefined });
world.log.info(`ensemble: ${STATES} states × ${ens.walkers} walkers on ${world.size} rank(s) in ${ens.groups} state group(s); pool of ${ens.pool.size} per rank`);

/** Runs the sampler on one state (every rank of its group together) and summarises the chain. */
async function sample(s: StateContext): Promise<Record<string, unknown>> {
  const dim = s.state + 1;
  const W = s.walkers;
  const evaluate = async (xs: number[][]) =>
    s.map<{ theta: number[] }, number>(
      model,
      "logProb",
      xs.map((theta) => ({ theta })),
    );
  const init0 = s.rng("init").fillNormal(new Float64Array(W * dim), 0, 0.1);
  const pos = Array.from({ length: W }, (_, k) => Array.from(init0.subarray(k * dim, (k + 1) * dim)));
  const lp = await evaluate(pos);
  const chain: number[][] = [];
  let accepted = 0;
  for (let t = 0; t < steps; t++) {
    // Red-blue split: each half moves against the other (already updated) half.
    for (const half of [0, 1]) {
      const movers = pos.map((_, k) => k).filter((k) => k % 2 === half);
      const others = pos.map((_, k) => k).filter((k) => k % 2 !== half);
      const r = s.rng("step", t, "half", half);
      const zs: number[] = [];
      const proposals = movers.map((k) => {
        const z = ((A - 1) * r.uniform() + 1) ** 2 / A;
        const j = others[r.int(others.length)]!;
        zs.push(z);
        return pos[k]!.map((x, i) => pos[j]![i]! + z * (x - pos[j]![i]!));
      });
      const lpNew = await evaluate(proposals);
      movers.forEach((k, m) => {
        const logRatio = (dim - 1) * Math.log(zs[m]!) + lpNew[m]! - lp[k]!;
        if (Math.log(r.uniform()) < logRatio) {
          pos[k] = proposals[m]!;
          lp[k] = lpNew[m]!;
          if (t >= burn) accepted++;
        }
      });
    }
    if (t >= burn) chain.push(...pos.map((p) => [...p]));
  }
  const { mean, cov } = moments(chain, dim);
  const exact = exactPosterior(dim);
  // Laplace's evidence from the chain: exact for this linear-Gaussian model up to Monte Carlo error.
  const logZ = logLike(mean) + logPrior(mean) + 0.5 * dim * Math.log(2 * Math.PI) + 0.5 * logDet(cov);
  return {
    state: s.state,
    degree: s.state,
    dim,
    walkers: W,
    steps,
    acceptance: accepted / ((steps - burn) * W),
    mean,
    sd: cov.map((row, i) => Math.sqrt(row[i]!)),
    exact_mean: exact.mean,
    log_evidence: logZ,
    exact_log_evidence: exact.logZ,
  };
}

const table = world.results(join(outDir, "ensemble"), { format: "jsonl", rank: false }); // every rank; rank 0 writes
const rows = await ens.run(sample); // per-state summaries on rank 0, indexed by state
if (rows) {
  const post = (key: string) => normalise(rows.map((r) => r[key] as number));
  const p = post("log_evidence");
  const pExact = post("exact_log_evidence");
  for (const [i, r] of rows.entries()) table.append({ ...r, p_degree: p[i], exact_p_degree: pExact[i] });
  const best = p.indexOf(Math.max(...p));
  world.log.info(`ensemble: degree ${best} is most probable (p = ${p[best]!.toFixed(3)}; exact ${pExact[best]!.toFixed(3)}); summary in ${table.path}`);
}
await table.close(); // collective: rank 0 writes the file
await world.finalize();

/** Posterior probabilities of the states from their log-evidences (equal prior odds). */
function normalise(logZ: number[]): number[] {
  const m = Math.max(...logZ);
  const w = logZ.map((z) => Math.exp(z - m));
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / total);
}

function moments(samples: number[][], dim: number): { mean: number[]; cov: number[][] } {
  const mean = new Array<number>(dim).fill(0);
  for (const x of samples) for (let i = 0; i < dim; i++) mean[i]! += x[i]!;
  for (let i = 0; i < dim; i++) mean[i]! /= samples.length;
  const cov = Array.from({ length: dim }, () => new Array<number>(dim).fill(0));
  for (const x of samples) for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) cov[i]![j]! += (x[i]! - mean[i]!) * (x[j]! - mean[j]!);
  for (const row of cov) for (let j = 0; j < dim; j++) row[j]! /= samples.length - 1;
  return { mean, cov };
}

/** Cholesky factor of a small SPD matrix (lower triangle). */
function cholesky(a: number[][]): number[][] {
  const n = a.length;
  const l = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i]![j]!;
      for (let k = 0; k < j; k++) s -= l[i]![k]! * l[j]![k]!;
      l[i]![j] = i === j ? Math.sqrt(s) : s / l[j]![j]!;
    }
  }
  return l;
}

function logDet(a: number[][]): number {
  return 2 * cholesky(a).reduce((s, row, i) => s + Math.log(row[i]!), 0);
}

/** Solves a·x = b with a's Cholesky factor. */
function solve(l: number[][], b: number[]): number[] {
  const n = b.length;
  const y = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) y[i] = (b[i]! - l[i]!.slice(0, i).reduce((s, v, k) => s + v * y[k]!, 0)) / l[i]![i]!;
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < n; k++) s -= l[k]![i]! * x[k]!;
    x[i] = s / l[i]![i]!;
  }
  return x;
}

/**
 * The exact answer for this linear-Gaussian model: with A = ΦᵀΦ/σ² + I/τ² and b = Φᵀy/σ², the
 * posterior is N(A⁻¹b, A⁻¹) and log Z = -½(yᵀy/σ² − bᵀA⁻¹b) − ½(n ln σ² + d ln τ² + ln|A|) − (n/2) ln 2π.
 */
function exactPosterior(dim: number): { mean: number[]; logZ: number } {
  const s2 = SIGMA * SIGMA;
  const t2 = PRIOR_SD * PRIOR_SD;
  const a = Array.from({ length: dim }, (_, i) => Array.from({ length: dim }, (_, j) => (i === j ? 1 / t2 : 0)));
  const b = new Array<number>(dim).fill(0);
  let yy = 0;
  for (let n = 0; n < N_DATA; n++) {
    const phi = Array.from({ length: dim }, (_, k) => data.x[n]! ** k);
    for (let i = 0; i < dim; i++) {
      b[i]! += (phi[i]! * data.y[n]!) / s2;
      for (let j = 0; j < dim; j++) a[i]![j]! += (phi[i]! * phi[j]!) / s2;
    }
    yy += data.y[n]! ** 2;
  }
  const l = cholesky(a);
  const mean = solve(l, b);
  const bAb = b.reduce((s, v, i) => s + v * mean[i]!, 0);
  const logZ = -0.5 * (yy / s2 - bAb) - 0.5 * (N_DATA * Math.log(s2) + dim * Math.log(t2) + logDet(a)) - 0.5 * N_DATA * Math.log(2 * Math.PI);
  return { mean, logZ };
}
