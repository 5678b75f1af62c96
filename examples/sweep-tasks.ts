// Task functions of examples/sweep.ts. The farm loads this module by URL on whichever rank runs a
// task and calls an export by name: functions are never shipped as source.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createRng, type TaskContext } from "zmpi";

/** What building a target produces: a 1-D Gaussian mixture the samplers explore. */
export interface Target {
  name: string;
  means: number[];
  sigma: number;
}

/** Stage 1: "build" a target (here: place the mixture's modes). */
export async function buildTarget(spec: { name: string; modes: number; seed: number }, ctx: TaskContext): Promise<Target> {
  const r = createRng(spec.seed, "target", spec.name);
  const means = Array.from({ length: spec.modes }, () => Math.round(r.uniform(-10, 10) * 100) / 100);
  ctx.log(`target ${spec.name}: ${spec.modes} modes at ${means.join(", ")} (rank ${ctx.rank})`);
  await new Promise((res) => setTimeout(res, 100));
  return { name: spec.name, means, sigma: 1 };
}

function logDensity(t: Target, x: number): number {
  let s = 0;
  for (const m of t.means) s += Math.exp(-0.5 * ((x - m) / t.sigma) ** 2);
  return Math.log(s + 1e-300);
}

/** Saves a built target for a later stage (a separate job): temp file, then rename. */
export function writeTargetFile(dir: string, t: Target): void {
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${t.name}.json.tmp`);
  writeFileSync(tmp, `${JSON.stringify(t)}\n`);
  renameSync(tmp, join(dir, `${t.name}.json`));
}

/** Stage 2: a random-walk Metropolis sampler on a target: `spec.target`, else the built one (`ctx.inputs[0]`). */
export async function runSampler(spec: { sampler: number; steps: number; step: number; target?: Target }, ctx: TaskContext): Promise<Record<string, unknown>> {
  const target = spec.target ?? (ctx.inputs[0] as Target);
  const r = createRng(spec.sampler, "sampler", target.name);
  const t0 = performance.now();
  let x = 0;
  let lp = logDensity(target, x);
  let accepted = 0;
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < spec.steps; i++) {
    const y = x + r.uniform(-spec.step, spec.step);
    const lq = logDensity(target, y);
    if (Math.log(r.uniform()) < lq - lp) {
      x = y;
      lp = lq;
      accepted++;
    }
    sum += x;
    sumSq += x * x;
  }
  const mean = sum / spec.steps;
  const row = {
    target: target.name,
    sampler: spec.sampler,
    steps: spec.steps,
    acceptance: accepted / spec.steps,
    mean,
    std: Math.sqrt(Math.max(0, sumSq / spec.steps - mean * mean)),
    ms: performance.now() - t0,
    ran_on: ctx.rank,
  };
  ctx.log(`sampler ${spec.sampler} on ${target.name}: acceptance ${row.acceptance.toFixed(3)}, mean ${mean.toFixed(3)}`);
  return row;
}
