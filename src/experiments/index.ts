/**
 * `zmpi/experiments`: strategy configs → sbatch scripts → submitted jobs → a run manifest →
 * one collected table → correctness and a summary with plots, for users who drive experiments
 * from their own scripts (the `zmpi sbatch|submit|status|wait|collect|summary|experiment`
 * commands are thin wrappers over these).
 *
 * ```ts
 * import { submit, wait, collect, summarize } from "zmpi/experiments";
 * const run = await submit("examples/inference/experiment.json");      // sbatch each strategy
 * await wait(run.dir);                                                   // manifest.json kept current
 * await collect(run.dir);                                                // results.parquet + results.csv
 * const s = await summarize(run.dir);                                    // summary.csv, summary.md, SVG plots
 * console.log(`${s.matched}/${s.compared} strategies match the baseline`);
 * ```
 * @packageDocumentation
 */
import { relative, resolve } from "node:path";
import type { JobConfig } from "./config.js";
import { loadExperiment, type Experiment } from "./experiment.js";
import { renderJob, writeRendered, type Executor, type Rendered } from "./render.js";

export { parseJob, ConfigError, jobSchema, type JobConfig, type JobConfigInput, type ConfigIssue } from "./config.js";
export { loadExperiment, parseExperiment, readConfigFile, summarySchema, type Experiment, type SummaryConfig, type SummaryConfigInput } from "./experiment.js";
export { renderJob, type Executor, type Rendered, type RenderOptions, type ExpConfig } from "./render.js";
export { submit, status, wait, describeJob, type SubmitOptions, type WaitOptions, type WaitProgress } from "./submit.js";
export { RunManifest, findRun, type RunManifestData, type RunJob, type JobCollect } from "./run-manifest.js";
export { FINAL_STATES, SchedulerError, type JobState, type JobInfo } from "./scheduler.js";
export { collect, type CollectOptions, type CollectResult } from "./collect.js";
export { summarize, type Summary, type SummaryOptions, type SummaryRow } from "./summary.js";
export { compareValues, correctness, percentile, type CompareFn, type Correctness, type Tolerance, type ValueMatch } from "./compare.js";
export { readTable, writeTable, type Table } from "./tables.js";
export { latencyVsCorrectnessSpec, throughputSpec, renderSvg, type VegaLiteSpec, type PlotRow } from "./plots.js";

/** Options of {@link render}. */
export interface RenderFilesOptions {
  /** Write each job to `<out>/<name>/` (script + `exp_config.json`); without it nothing is written and the scripts are reusable (output in the submit directory). */
  out?: string;
  executor?: Executor;
  /** Only these jobs. */
  only?: readonly string[];
}

/** A rendered job, and where it was written. */
export interface RenderedJob extends Rendered {
  name: string;
  /** Paths written (when `out` was given). */
  scriptPath?: string;
  configPath?: string;
}

/**
 * Renders every job of a config (a path, a loaded experiment, or one validated job) into sbatch
 * scripts and `exp_config.json` contents, written under `out` when given.
 *
 * ```ts
 * const [job] = await render("slurm/hybrid-tp-pp.json");
 * process.stdout.write(job.script);
 * ```
 */
export async function render(config: string | Experiment | JobConfig, opts: RenderFilesOptions = {}): Promise<RenderedJob[]> {
  const exp: Experiment = typeof config === "string" ? await loadExperiment(config) : "strategies" in config ? config : { name: config.name, strategies: [config] };
  const jobs = [...(exp.baseline ? [exp.baseline] : []), ...exp.strategies].filter((j) => !opts.only?.length || opts.only.includes(j.name));
  const source = exp.source ? relative(process.cwd(), exp.source) || exp.source : undefined;
  return jobs.map((job) => {
    const jobDir = opts.out ? resolve(opts.out, job.name) : undefined;
    const r = renderJob(job, { jobDir, executor: opts.executor, source });
    return jobDir ? { name: job.name, ...r, ...writeRendered(jobDir, r) } : { name: job.name, ...r };
  });
}
