/**
 * `summarize`: per job, correctness against the baseline (match rate, largest absolute error) and
 * performance (latency percentiles from the table, wall time and peak RSS from the job's
 * `metrics.json`, elapsed time from the scheduler, throughput), written as `summary.csv`,
 * `summary.md` and two SVG plots in the run directory.
 *
 * Throughput is rows (or tokens, with a tokens column) per second of the slowest rank's wall
 * time (process start to finalize, start-up included), or of the largest latency for tables whose
 * latency counts from a common start (`throughputTime: "max-latency"`: the serving time).
 */
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { UsageError } from "../errors.js";
import { writeFileAtomic } from "../results/atomic.js";
import type { MetricsReport } from "../results/metrics.js";
import type { Row } from "../results/schema.js";
import { collect } from "./collect.js";
import { correctness, loadCompareFn, percentile, type Correctness, type Tolerance } from "./compare.js";
import type { SummaryConfig } from "./experiment.js";
import { writePlots, type PlotRow } from "./plots.js";
import { findRun, RunManifest } from "./run-manifest.js";
import { readTable, writeTable } from "./tables.js";

/** Options of {@link summarize}; each falls back to the experiment's `summary` section. */
export interface SummaryOptions {
  /** Baseline table (path); default: the rows of the run's `baseline` job. */
  baseline?: string;
  /** Key column(s) and compared columns. */
  key?: string | string[];
  compare?: string[];
  tolerance?: Partial<Tolerance>;
  /** Per-row latency column (ms), tokens column. */
  latency?: string;
  tokens?: string;
  /** `module#export` of a comparison function for non-numeric, non-string values. */
  compareModule?: string;
  /** Throughput over `wall` time (default) or the largest latency (`max-latency`, needs a latency column). */
  throughputTime?: "wall" | "max-latency";
  /** Write the SVG plots (default true). */
  plots?: boolean;
}

/** One job's line of the summary. */
export interface SummaryRow extends Omit<Correctness, "mismatchedKeys"> {
  strategy: string;
  jobId: string;
  state: string;
  /** True when every baseline row is present and matches. */
  match: boolean;
  latencyP50Ms: number | null;
  latencyP90Ms: number | null;
  latencyP99Ms: number | null;
  wallSec: number | null;
  elapsedSec: number | null;
  rowsPerSec: number | null;
  tokensPerSec: number | null;
  peakRssMiB: number | null;
  mismatchedKeys: string;
}

/** What {@link summarize} wrote. */
export interface Summary {
  rows: SummaryRow[];
  /** Jobs that match the baseline, out of those compared. */
  matched: number;
  compared: number;
  csv: string;
  md: string;
  plots: string[];
}

function metricsOf(dir: string): MetricsReport | null {
  const p = join(dir, "metrics.json");
  if (!existsSync(p)) return null;
  try {
    return JSON.parse(readFileSync(p, "utf8")) as MetricsReport;
  } catch {
    return null;
  }
}

const round = (x: number | null, d = 3) => (x === null ? null : Number(x.toPrecision(d + 3)));
const fmt = (x: number | null | undefined, d = 3) =>
  x === null || x === undefined ? "" : Math.abs(x) >= 1e5 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(2) : Number(x.toFixed(d)).toString();

function settle(
  o: SummaryOptions,
  fromRun: unknown,
): Required<Pick<SummaryOptions, "compare" | "throughputTime">> & { key: string[]; tolerance: Tolerance; latency?: string; tokens?: string; compareModule?: string } {
  const s = (fromRun ?? {}) as Partial<SummaryConfig>;
  const key = o.key ?? s.key;
  const compare = o.compare ?? s.compare;
  if (!key || !compare?.length) throw new UsageError(`summary needs --key <column> and --compare <column...> (or a "summary" section in the experiment file)`, { op: "summary" });
  return {
    key: Array.isArray(key) ? key : [key],
    compare,
    tolerance: { abs: o.tolerance?.abs ?? s.tolerance?.abs ?? 0, rel: o.tolerance?.rel ?? s.tolerance?.rel ?? 0 },
    latency: o.latency ?? s.latency,
    tokens: o.tokens ?? s.tokens,
    compareModule: o.compareModule ?? s.compareModule,
    throughputTime: o.throughputTime ?? s.throughputTime ?? "wall",
  };
}

/**
 * Summarises a run (collecting it first if needed). `run` is a run directory or an output root.
 *
 * ```ts
 * const s = await summarize("runs/inference", { key: "prompt_id", compare: ["output"], tolerance: { abs: 1e-9 } });
 * console.log(`${s.matched}/${s.compared} strategies match the baseline`);
 * ```
 */
export async function summarize(run?: string, opts: SummaryOptions = {}): Promise<Summary> {
  const dir = findRun(run);
  let m = RunManifest.open(dir);
  const o = settle(opts, m.data.experiment?.summary);
  if (!m.data.collected) m = (await collect(dir)).manifest;
  const merged = await readTable(join(m.dir, m.data.collected!.parquet));
  const byStrategy = new Map<string, Row[]>();
  for (const r of merged.rows) {
    const s = String(r.strategy);
    if (!byStrategy.has(s)) byStrategy.set(s, []);
    byStrategy.get(s)!.push(r);
  }
  const baseJob = m.data.jobs.find((j) => j.baseline);
  let baseline: Row[];
  if (opts.baseline) baseline = (await readTable(opts.baseline)).rows;
  else if (baseJob) {
    baseline = byStrategy.get(baseJob.strategy) ?? [];
    if (baseline.length === 0)
      throw new UsageError(`the baseline job "${baseJob.strategy}" left no rows (${baseJob.collect?.message || baseJob.state}): pass --baseline <table>`, { op: "summary" });
  } else throw new UsageError("this run has no baseline job: pass --baseline <table>", { op: "summary" });
  for (const c of [...o.key, ...o.compare]) {
    if (baseline.length && !(c in baseline[0]!)) throw new UsageError(`the baseline has no column "${c}" (columns: ${Object.keys(baseline[0]!).join(", ")})`, { op: "summary" });
  }
  const custom = o.compareModule ? await loadCompareFn(o.compareModule, m.data.experiment?.source ? join(m.data.experiment.source, "..") : process.cwd()) : undefined;
  const rows: SummaryRow[] = [];
  for (const j of m.data.jobs) {
    if (j.baseline && !opts.baseline) continue;
    const mine = byStrategy.get(j.strategy) ?? [];
    const c = await correctness(mine, baseline, o.key, o.compare, o.tolerance, custom);
    const lat = o.latency ? mine.map((r) => Number(r[o.latency!])) : [];
    const metrics = metricsOf(m.jobDir(j));
    const wallSec = metrics ? metrics.totals.maxWallMs / 1000 : null;
    const maxLatency = lat.length ? Math.max(...lat.filter(Number.isFinite)) / 1000 : null;
    if (o.throughputTime === "max-latency" && !o.latency) throw new UsageError(`throughput over "max-latency" needs a latency column (--latency <col>)`, { op: "summary" });
    const span = o.throughputTime === "max-latency" ? maxLatency : wallSec;
    const tokens = o.tokens ? mine.reduce((a, r) => a + (Number(r[o.tokens!]) || 0), 0) : null;
    rows.push({
      strategy: j.strategy,
      jobId: j.jobId,
      state: j.state,
      ...c,
      mismatchedKeys: c.mismatchedKeys.join(" "),
      match: c.matched === c.baselineRows && c.baselineRows > 0 && c.extra === 0 && c.duplicates === 0,
      latencyP50Ms: percentile(lat, 50),
      latencyP90Ms: percentile(lat, 90),
      latencyP99Ms: percentile(lat, 99),
      wallSec: round(wallSec),
      elapsedSec: j.elapsedSec,
      rowsPerSec: span ? round(mine.length / span) : null,
      tokensPerSec: span && tokens !== null ? round(tokens / span) : null,
      peakRssMiB: metrics ? round(metrics.totals.maxPeakRssBytes / 2 ** 20) : null,
    });
  }
  const matched = rows.filter((r) => r.match).length;
  const columns = Object.keys(rows[0] ?? { strategy: "" });
  const { csv } = writeTable(join(m.dir, "summary"), { columns, rows: rows as unknown as Row[] });
  const plots =
    opts.plots === false
      ? []
      : await writePlots(
          m.dir,
          rows.map(
            (r) =>
              ({
                strategy: r.strategy,
                latencyP50Ms: r.latencyP50Ms,
                matchRate: r.matchRate,
                throughput: r.tokensPerSec ?? r.rowsPerSec,
                throughputLabel: r.tokensPerSec !== null ? "tokens/s" : "rows/s",
              }) satisfies PlotRow,
          ),
        );
  const md = join(m.dir, "summary.md");
  writeFileAtomic(md, markdown(m, rows, o, matched, plots));
  m.data.summary = {
    csv: relative(m.dir, csv),
    md: relative(m.dir, md),
    plots: plots.map((p) => relative(m.dir, p)),
    matched,
    compared: rows.length,
    at: new Date().toISOString(),
  };
  m.save();
  return { rows, matched, compared: rows.length, csv, md, plots };
}

function markdown(m: RunManifest, rows: SummaryRow[], o: ReturnType<typeof settle>, matched: number, plots: string[]): string {
  const tol = o.tolerance.abs || o.tolerance.rel ? `|a - b| <= ${o.tolerance.abs} + ${o.tolerance.rel}·|b|` : "exact";
  const lines = [
    `# ${m.data.experiment?.name ?? m.data.run}: ${m.data.run}`,
    "",
    `**${matched}/${rows.length} strategies match the baseline** (key ${o.key.join(", ")}; compared ${o.compare.join(", ")}; ${tol}).`,
    "",
    "| strategy | job | state | match | rows | match rate | max abs error | p50 ms | p90 ms | p99 ms | wall s | elapsed s | rows/s | tokens/s | peak RSS MiB |",
    "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.strategy} | ${r.jobId} | ${r.state} | ${r.match ? "yes" : "**no**"} | ${r.rows} | ${fmt(r.matchRate * 100, 1)}% | ${fmt(r.maxAbsError)} | ${fmt(r.latencyP50Ms)} | ${fmt(r.latencyP90Ms)} | ${fmt(r.latencyP99Ms)} | ${fmt(r.wallSec, 2)} | ${r.elapsedSec ?? ""} | ${fmt(r.rowsPerSec, 2)} | ${fmt(r.tokensPerSec, 1)} | ${fmt(r.peakRssMiB, 1)} |`,
    ),
    "",
  ];
  for (const r of rows.filter((x) => !x.match)) {
    lines.push(
      `- ${r.strategy}: ${r.matched}/${r.baselineRows} rows match; ${r.missing} missing, ${r.extra} extra, ${r.duplicates} duplicated${r.mismatchedKeys ? `; first mismatches: ${r.mismatchedKeys}` : ""}`,
    );
  }
  if (plots.length) lines.push("", ...plots.map((p) => `![${relative(m.dir, p)}](${relative(m.dir, p)})`));
  const over =
    o.throughputTime === "max-latency" ? `the largest ${o.latency} (the serving time: latency counts from a common start)` : "the slowest rank's wall time (start-up included)";
  lines.push("", `Throughput is rows (or tokens) per second of ${over}; latency percentiles are over the table's rows.`, "");
  return lines.join("\n");
}
