/**
 * `submit` / `status` / `wait`: render every job of one or more configs into a fresh run
 * directory, submit them (Slurm or local), and follow them to the end, recording everything in
 * the run's manifest after each change.
 */
import { join, relative, resolve } from "node:path";
import cliProgress from "cli-progress";
import { TimeoutError, UsageError } from "../errors.js";
import type { JobConfig } from "./config.js";
import { loadExperiment, type Experiment } from "./experiment.js";
import { renderJob, writeRendered, type Executor } from "./render.js";
import { findRun, RunManifest, type RunJob, type RunManifestData } from "./run-manifest.js";
import { FINAL_STATES, queryJobs, submitLocal, submitSlurm } from "./scheduler.js";

/** Options of {@link submit}. */
export interface SubmitOptions {
  /** `slurm` (default) or `local` (`zmpi launch` on this machine). */
  executor?: Executor;
  /** Output root for the run directory (default: the configs' `output`). */
  root?: string;
  /** Only these strategies (and what they wait for). */
  only?: readonly string[];
  /** Environment for sbatch (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Called after each job is submitted. */
  onSubmit?: (job: RunJob) => void;
}

interface Planned {
  job: JobConfig;
  baseline: boolean;
  source: string | null;
  exp: Experiment;
}

function plan(exps: Experiment[], only: readonly string[] | undefined): Planned[] {
  const out: Planned[] = [];
  const seen = new Map<string, string>();
  for (const exp of exps) {
    const jobs = [...(exp.baseline ? [{ job: exp.baseline, baseline: true }] : []), ...exp.strategies.map((job) => ({ job, baseline: false }))];
    for (const { job, baseline } of jobs) {
      const from = exp.source ?? exp.name;
      if (seen.has(job.name))
        throw new UsageError(`two jobs named "${job.name}" (in ${seen.get(job.name)} and ${from}): job names are directories of the run and must differ`, { op: "submit" });
      seen.set(job.name, from);
      out.push({ job, baseline, source: exp.source ?? null, exp });
    }
  }
  if (!only?.length) return out;
  for (const n of only) if (!seen.has(n)) throw new UsageError(`no job named "${n}" (jobs: ${[...seen.keys()].join(", ")})`, { op: "submit" });
  const keep = new Set<string>();
  const add = (n: string) => {
    if (keep.has(n)) return;
    keep.add(n);
    for (const a of out.find((p) => p.job.name === n)!.job.after) add(a);
  };
  only.forEach(add);
  return out.filter((p) => keep.has(p.job.name));
}

/**
 * Renders and submits every job of the configs (paths or loaded experiments) as one run:
 * `<root>/run_<timestamp>/` with a directory per job (script, `exp_config.json`, output,
 * results) and `manifest.json`. Jobs with `after` wait for those jobs (`--dependency=afterok`).
 * Resolves with the run's manifest as soon as everything is submitted.
 *
 * ```ts
 * import { submit, wait } from "zmpi/experiments";
 * const run = await submit(["examples/inference/experiment.json"]);
 * await wait(run.dir);
 * ```
 */
export async function submit(configs: string | Experiment | readonly (string | Experiment)[], opts: SubmitOptions = {}): Promise<RunManifest> {
  const list = Array.isArray(configs) ? configs : [configs as string | Experiment];
  if (list.length === 0) throw new UsageError("submit needs at least one config", { op: "submit" });
  const exps = await Promise.all(list.map((c) => (typeof c === "string" ? loadExperiment(c) : Promise.resolve(c))));
  const jobs = plan(exps, opts.only);
  const executor = opts.executor ?? "slurm";
  const root = resolve(opts.root ?? jobs[0]!.job.output);
  const first = exps[0]!;
  const m = RunManifest.create(root, executor, { name: exps.map((e) => e.name).join("+"), source: first.source ?? null, summary: first.summary });
  const ids = new Map<string, { id: string; dir: string }>();
  for (const p of jobs) {
    const dir = join(m.dir, p.job.name);
    const r = renderJob(p.job, { jobDir: dir, executor, source: p.source ? relative(process.cwd(), p.source) || p.source : undefined });
    const { scriptPath } = writeRendered(dir, r);
    const deps = p.job.after.map((a) => ids.get(a)!);
    const jobId =
      executor === "local"
        ? submitLocal(
            scriptPath,
            dir,
            join(dir, "local.out"),
            deps.map((d) => d.dir),
          )
        : await submitSlurm(scriptPath, { afterOk: deps.map((d) => d.id), env: opts.env });
    ids.set(p.job.name, { id: jobId, dir });
    const j: RunJob = {
      strategy: p.job.name,
      ...(p.baseline ? { baseline: true } : {}),
      jobId,
      config: p.source,
      script: join(p.job.name, r.scriptName),
      dir: p.job.name,
      table: p.job.results?.table ?? "results.parquet",
      dependsOn: deps.map((d) => d.id),
      submittedAt: new Date().toISOString(),
      state: "PENDING",
      exitCode: null,
      elapsedSec: null,
      startedAt: null,
      endedAt: null,
      nodeList: null,
      via: null,
      sacct: null,
      collect: null,
    };
    m.data.jobs.push(j);
    m.save(); // after every submission: a crash here still leaves the jobs already queued on record
    opts.onSubmit?.(j);
  }
  return m;
}

/**
 * Asks the scheduler about every job of a run that has not finished, records the answers in the
 * manifest, and returns it. `run` is a run directory or an output root (its newest run).
 */
export async function status(run?: string): Promise<RunManifest> {
  const m = RunManifest.open(findRun(run));
  const open = m.data.jobs.filter((j) => !FINAL_STATES.has(j.state));
  if (open.length === 0) return m;
  const infos = await queryJobs(open.map((j) => ({ jobId: j.jobId, dir: m.jobDir(j) })));
  let changed = false;
  for (const j of open) {
    const info = infos.get(j.jobId);
    if (info && m.update(j, info)) changed = true;
  }
  if (changed) m.save();
  return m;
}

/** How {@link wait} shows progress. */
export type WaitProgress = "auto" | "bar" | "lines" | "none";

/** Options of {@link wait}. */
export interface WaitOptions {
  /** Seconds between polls (default 2). */
  intervalSec?: number;
  /** Give up after this many seconds (default: no limit but the jobs' own time limits). */
  timeoutSec?: number;
  /** `auto`: a bar on a terminal, a line per state change otherwise. */
  progress?: WaitProgress;
  /** Where lines go (default stderr). */
  out?: NodeJS.WritableStream;
}

/** True when every job of the manifest is in a final state. */
function allFinal(m: RunManifestData): boolean {
  return m.jobs.every((j) => FINAL_STATES.has(j.state));
}

/** One line about a job: `tp-across 1234 COMPLETED exit 0, 12 s (scontrol)`. */
export function describeJob(j: RunJob): string {
  const extra = [j.exitCode !== null ? `exit ${j.exitCode}` : null, j.elapsedSec !== null ? `${j.elapsedSec} s` : null].filter(Boolean).join(", ");
  return `${j.strategy} ${j.jobId} ${j.state}${extra ? ` (${extra})` : ""}`;
}

/**
 * Polls a run until every job has finished (or `timeoutSec` passes: `TimeoutError` naming the
 * jobs still open), showing progress. Safe to kill at any moment and to run again: all state is
 * in the manifest.
 */
export async function wait(run?: string, opts: WaitOptions = {}): Promise<RunManifest> {
  const out = opts.out ?? process.stderr;
  const mode = opts.progress === "auto" || opts.progress === undefined ? ((out as NodeJS.WriteStream).isTTY ? "bar" : "lines") : opts.progress;
  const deadline = opts.timeoutSec !== undefined ? Date.now() + opts.timeoutSec * 1000 : Infinity;
  const interval = (opts.intervalSec ?? 2) * 1000;
  const seen = new Map<string, string>();
  let bar: cliProgress.SingleBar | null = null;
  try {
    for (;;) {
      const m = await status(run);
      run = m.dir;
      const done = m.data.jobs.filter((j) => FINAL_STATES.has(j.state)).length;
      const total = m.data.jobs.length;
      if (mode === "lines") {
        for (const j of m.data.jobs) {
          if (seen.get(j.strategy) === j.state) continue;
          seen.set(j.strategy, j.state);
          out.write(`[${done}/${total} done] ${describeJob(j)}\n`);
        }
      } else if (mode === "bar") {
        const running = m.data.jobs.filter((j) => j.state === "RUNNING").map((j) => j.strategy);
        if (!bar) {
          bar = new cliProgress.SingleBar(
            { format: "jobs |{bar}| {value}/{total} {what}", hideCursor: true, stream: out as NodeJS.WriteStream },
            cliProgress.Presets.shades_classic,
          );
          bar.start(total, done, { what: "" });
        }
        bar.update(done, { what: running.length ? `running: ${running.join(", ")}` : "" });
      }
      if (allFinal(m.data)) return m;
      if (Date.now() + interval > deadline) {
        const open = m.data.jobs.filter((j) => !FINAL_STATES.has(j.state));
        throw new TimeoutError(
          `${open.length} job(s) of ${m.data.run} still open after ${opts.timeoutSec} s: ${open.map(describeJob).join("; ")}; "zmpi wait ${m.dir}" picks up from here`,
          { op: "wait" },
        );
      }
      await new Promise((r) => setTimeout(r, interval));
    }
  } finally {
    bar?.stop();
  }
}
