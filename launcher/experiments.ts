/**
 * The experiment commands: `zmpi sbatch | submit | status | wait | collect | summary | experiment`.
 * Each is a thin wrapper over `zmpi/experiments` (src/experiments): parse the arguments, call,
 * print. `experiment` chains them: render and submit every strategy, wait, collect, summarise.
 */
import { Command, InvalidArgumentError } from "commander";
import Table from "cli-table3";
import {
  collect,
  describeJob,
  loadExperiment,
  render,
  status,
  submit,
  summarize,
  wait,
  type Executor,
  type RunManifestData,
  type Summary,
  type WaitProgress,
} from "../src/experiments/index.js";
import { positiveNumber } from "./args.js";

const nonNegative = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a number >= 0, got "${v}"`);
  return n;
};

const progressMode = (v: string): WaitProgress => {
  if (!["auto", "bar", "lines", "none"].includes(v)) throw new InvalidArgumentError(`expected auto, bar, lines or none, got "${v}"`);
  return v as WaitProgress;
};

/** The manifest as a table for the terminal. */
function formatRun(m: RunManifestData, dir: string): string {
  const t = new Table({ head: ["job", "id", "state", "exit", "elapsed s", "nodes", "via", "collected"], style: { head: [], border: [] } });
  for (const j of m.jobs) {
    t.push([
      j.strategy + (j.baseline ? " (baseline)" : ""),
      j.jobId,
      j.state,
      j.exitCode ?? "",
      j.elapsedSec ?? "",
      j.nodeList ?? "",
      j.via ?? "",
      j.collect ? `${j.collect.status} (${j.collect.rows} rows)${j.collect.message ? `: ${j.collect.message}` : ""}` : "",
    ]);
  }
  return `${m.run} (${m.executor}) in ${dir}\n${t.toString()}`;
}

function formatSummary(s: Summary): string {
  const t = new Table({ head: ["strategy", "match", "match rate", "max abs err", "p50 ms", "rows/s", "tokens/s", "wall s"], style: { head: [], border: [] } });
  for (const r of s.rows)
    t.push([
      r.strategy,
      r.match ? "yes" : "NO",
      `${(r.matchRate * 100).toFixed(1)}%`,
      r.maxAbsError === null ? "" : r.maxAbsError.toExponential(2),
      r.latencyP50Ms?.toFixed(2) ?? "",
      r.rowsPerSec ?? "",
      r.tokensPerSec ?? "",
      r.wallSec ?? "",
    ]);
  return `${t.toString()}\n${s.matched}/${s.compared} strategies match the baseline\nsummary: ${s.md}\n         ${s.csv}\n${s.plots.map((p) => `plot:    ${p}`).join("\n")}`;
}

interface SummaryFlags {
  baseline?: string;
  key?: string[];
  compare?: string[];
  abs?: number;
  rel?: number;
  latency?: string;
  tokens?: string;
  compareFn?: string;
  throughputTime?: "wall" | "max-latency";
  plots: boolean;
}

const summaryOptions = (o: SummaryFlags) => ({
  baseline: o.baseline,
  key: o.key,
  compare: o.compare,
  tolerance: o.abs !== undefined || o.rel !== undefined ? { abs: o.abs, rel: o.rel } : undefined,
  latency: o.latency,
  tokens: o.tokens,
  compareModule: o.compareFn,
  throughputTime: o.throughputTime,
  plots: o.plots,
});

function withSummaryFlags(c: Command): Command {
  return c
    .option("--baseline <table>", "baseline table (.parquet, .csv, .jsonl); default: the run's baseline job")
    .option("--key <col...>", "column(s) identifying a row in both tables")
    .option("--compare <col...>", "column(s) that must match the baseline")
    .option("--abs <x>", "absolute tolerance for numbers", nonNegative)
    .option("--rel <x>", "relative tolerance for numbers", nonNegative)
    .option("--latency <col>", "per-row latency column (ms) for percentiles")
    .option("--tokens <col>", "tokens column for tokens per second")
    .option("--compare-fn <module#export>", "comparison function for values that are neither numbers nor strings")
    .option("--throughput-time <t>", 'time throughput is over: "wall" (slowest rank, start-up included) or "max-latency" (largest latency: the serving time)', (v: string) => {
      if (v !== "wall" && v !== "max-latency") throw new InvalidArgumentError(`expected wall or max-latency, got "${v}"`);
      return v;
    })
    .option("--no-plots", "skip the SVG plots");
}

/** The experiment commands, for registration in cli.ts. */
export function experimentCommands(setStatus: (s: number) => void): Command[] {
  const sbatch = new Command("sbatch")
    .description("render a job or experiment config into commented sbatch script(s) and exp_config.json")
    .argument("<config>", "job or experiment config (.json, .yaml)")
    .option("--dry-run", "print the script(s) instead of writing them")
    .option("-o, --out <dir>", "write <dir>/<name>/job.sbatch and exp_config.json (default: the config's output root)")
    .option("--local", "render for the local executor (zmpi launch) instead of srun")
    .option("--only <name...>", "only these jobs")
    .action(async (config: string, o: { dryRun?: boolean; out?: string; local?: boolean; only?: string[] }) => {
      const executor: Executor = o.local ? "local" : "slurm";
      if (o.dryRun) {
        const jobs = await render(config, { executor, only: o.only });
        process.stdout.write(jobs.map((j) => (jobs.length > 1 ? `# ===== ${j.name} =====\n${j.script}` : j.script)).join("\n"));
        return setStatus(0);
      }
      const exp = await loadExperiment(config);
      const out = o.out ?? exp.strategies[0]!.output;
      for (const j of await render(exp, { executor, only: o.only, out })) process.stdout.write(`${j.name}: ${j.scriptPath} (+ ${j.configPath})\n`);
      setStatus(0);
    });

  const submitCmd = new Command("submit")
    .description("render and submit every job of the config(s) as one run (run_<timestamp>/manifest.json)")
    .argument("<config...>", "job or experiment configs")
    .option("--local", "run the jobs on this machine through zmpi launch instead of Slurm")
    .option("-o, --out <dir>", "output root for the run directory (default: the config's output)")
    .option("--only <name...>", "only these jobs (and the jobs they wait for)")
    .action(async (configs: string[], o: { local?: boolean; out?: string; only?: string[] }) => {
      const m = await submit(configs, {
        executor: o.local ? "local" : "slurm",
        root: o.out,
        only: o.only,
        onSubmit: (j) => process.stderr.write(`submitted ${j.strategy}: job ${j.jobId}${j.dependsOn.length ? ` (after ${j.dependsOn.join(", ")})` : ""}\n`),
      });
      process.stdout.write(`${m.dir}\n`);
      setStatus(0);
    });

  const statusCmd = new Command("status")
    .description("ask the scheduler about a run's jobs and update its manifest")
    .argument("[run]", "run directory, or an output root (its newest run)", "runs")
    .option("--json", "print the manifest")
    .action(async (run: string, o: { json?: boolean }) => {
      const m = await status(run);
      process.stdout.write(o.json ? `${JSON.stringify(m.data, null, 2)}\n` : `${formatRun(m.data, m.dir)}\n`);
      setStatus(0);
    });

  const waitCmd = new Command("wait")
    .description("poll a run until every job has finished, with progress; safe to kill and run again")
    .argument("[run]", "run directory, or an output root (its newest run)", "runs")
    .option("--interval <s>", "seconds between polls", positiveNumber, 2)
    .option("--timeout <s>", "give up after S seconds (exit status 124)", positiveNumber)
    .option("--progress <mode>", "auto, bar, lines or none", progressMode, "auto" as WaitProgress)
    .action(async (run: string, o: { interval: number; timeout?: number; progress: WaitProgress }) => {
      try {
        const m = await wait(run, { intervalSec: o.interval, timeoutSec: o.timeout, progress: o.progress });
        process.stdout.write(`${formatRun(m.data, m.dir)}\n`);
        setStatus(m.data.jobs.every((j) => j.state === "COMPLETED") ? 0 : 1);
      } catch (e) {
        if ((e as Error).name !== "TimeoutError") throw e;
        process.stderr.write(`zmpi wait: ${(e as Error).message}\n`);
        setStatus(124);
      }
    });

  const collectCmd = new Command("collect")
    .description("merge the jobs' tables into one run table (Parquet and CSV) with a strategy column")
    .argument("[run]", "run directory, or an output root (its newest run)", "runs")
    .option("--strategy-column <name>", "name of the added column", "strategy")
    .action(async (run: string, o: { strategyColumn: string }) => {
      const r = await collect(run, { strategyColumn: o.strategyColumn });
      for (const j of r.jobs) process.stdout.write(`${j.strategy}: ${j.status}, ${j.rows} rows${j.message ? ` (${j.message})` : ""}\n`);
      process.stdout.write(`${r.table.rows.length} rows -> ${r.parquet}\n${" ".repeat(String(r.table.rows.length).length + 9)}${r.csv}\n`);
      setStatus(r.jobs.every((j) => j.status === "ok" || j.status === "skipped") ? 0 : 1);
    });

  const summaryCmd = withSummaryFlags(
    new Command("summary")
      .description("correctness against the baseline and performance per job: summary.csv, summary.md, SVG plots")
      .argument("[run]", "run directory, or an output root (its newest run)", "runs"),
  ).action(async (run: string, o: SummaryFlags) => {
    const s = await summarize(run, summaryOptions(o));
    process.stdout.write(`${formatSummary(s)}\n`);
    setStatus(s.matched === s.compared ? 0 : 1);
  });

  const experiment = withSummaryFlags(
    new Command("experiment")
      .description("render, submit, wait, collect and summarise an experiment in one go")
      .argument("<config>", "experiment config (.json, .yaml)")
      .option("--local", "run on this machine through zmpi launch instead of Slurm")
      .option("-o, --out <dir>", "output root for the run directory")
      .option("--timeout <s>", "give up waiting after S seconds", positiveNumber)
      .option("--interval <s>", "seconds between polls", positiveNumber, 2)
      .option("--progress <mode>", "auto, bar, lines or none", progressMode, "auto" as WaitProgress),
  ).action(async (config: string, o: SummaryFlags & { local?: boolean; out?: string; timeout?: number; interval: number; progress: WaitProgress }) => {
    const m = await submit(config, { executor: o.local ? "local" : "slurm", root: o.out, onSubmit: (j) => process.stderr.write(`submitted ${j.strategy}: job ${j.jobId}\n`) });
    process.stderr.write(`run: ${m.dir}\n`);
    let done: RunManifestData;
    try {
      done = (await wait(m.dir, { intervalSec: o.interval, timeoutSec: o.timeout, progress: o.progress })).data;
    } catch (e) {
      if ((e as Error).name !== "TimeoutError") throw e;
      process.stderr.write(`zmpi experiment: ${(e as Error).message}\n`);
      return setStatus(124);
    }
    for (const j of done.jobs.filter((x) => x.state !== "COMPLETED")) process.stderr.write(`zmpi experiment: ${describeJob(j)}: see ${m.dir}/${j.dir}/\n`);
    const c = await collect(m.dir);
    for (const j of c.jobs.filter((x) => x.status !== "ok" && x.status !== "skipped"))
      process.stderr.write(`zmpi experiment: ${j.strategy}: ${j.status}${j.message ? ` (${j.message})` : ""}\n`);
    const collected = c.jobs.every((j) => j.status === "ok" || j.status === "skipped");
    if (!m.data.experiment?.summary && !o.key) {
      // No baseline to compare with: the run's table is the result.
      process.stdout.write(
        `${c.table.rows.length} rows from ${c.jobs
          .filter((j) => j.status === "ok")
          .map((j) => j.strategy)
          .join(", ")} -> ${c.parquet}\n${" ".repeat(String(c.table.rows.length).length + 9)}${c.csv}\n`,
      );
      return setStatus(collected ? 0 : 1);
    }
    const s = await summarize(m.dir, summaryOptions(o));
    process.stdout.write(`${formatSummary(s)}\n`);
    setStatus(s.matched === s.compared && collected ? 0 : 1);
  });

  return [sbatch, submitCmd, statusCmd, waitCmd, collectCmd, summaryCmd, experiment];
}
