/**
 * `collect`: the tables every job's rank 0 wrote, merged into one run table (Parquet and CSV)
 * with a `strategy` column first. Each job is checked against what its config promised (row
 * count, columns) and against the job's own results manifest (a table whose run failed is
 * partial); missing and partial jobs are marked in the run manifest. After each job the table so
 * far and the manifest are written (atomically), so an interrupted collect leaves a consistent
 * table and says which jobs it holds.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { UsageError } from "../errors.js";
import type { Row } from "../results/schema.js";
import { findRun, RunManifest, type JobCollect, type RunJob } from "./run-manifest.js";
import type { ExpConfig } from "./render.js";
import { readTable, writeTable, type Table } from "./tables.js";

/** Options of {@link collect}. */
export interface CollectOptions {
  /** Base name of the merged table in the run directory (default `results`: results.parquet, results.csv). */
  name?: string;
  /** Name of the added column (default `strategy`). */
  strategyColumn?: string;
}

/** What {@link collect} did. */
export interface CollectResult {
  manifest: RunManifest;
  /** The merged table. */
  table: Table;
  parquet: string;
  csv: string;
  /** Per job: how its table was taken. */
  jobs: Array<{ strategy: string } & JobCollect>;
}

function promised(m: RunManifest, j: RunJob): ExpConfig["job"]["results"] | undefined {
  const p = join(m.jobDir(j), "exp_config.json");
  if (!existsSync(p)) return undefined;
  return (JSON.parse(readFileSync(p, "utf8")) as ExpConfig).job.results;
}

/** The job's own results manifest (written by world.results), if it says the run did not complete. */
function resultsTrouble(dir: string): string | null {
  const p = join(dir, "manifest.json");
  if (!existsSync(p)) return null;
  try {
    const d = JSON.parse(readFileSync(p, "utf8")) as { status?: string; error?: string };
    if (d.status === "failed") return `its results manifest says the run failed: ${d.error ?? "no reason given"}`;
    if (d.status === "running") return "its results manifest says the table was never closed (the job stopped mid-run)";
  } catch {
    return "its results manifest is unreadable";
  }
  return null;
}

async function takeJob(m: RunManifest, j: RunJob, reference: string[] | null): Promise<{ c: JobCollect; table: Table | null }> {
  const at = new Date().toISOString();
  const dir = m.jobDir(j);
  if (j.state !== "COMPLETED") {
    return {
      c: {
        status: "failed",
        rows: 0,
        columns: [],
        message: `job ${j.jobId} ended ${j.state}${j.exitCode !== null ? ` (exit ${j.exitCode})` : ""}: see ${relative(process.cwd(), dir) || dir}/`,
        at,
      },
      table: null,
    };
  }
  const want = promised(m, j);
  if (want?.collect === false) return { c: { status: "skipped", rows: 0, columns: [], message: "results.collect is false", at }, table: null };
  const path = join(dir, j.table);
  if (!existsSync(path)) return { c: { status: "missing", rows: 0, columns: [], message: `no ${j.table} in ${dir}`, at }, table: null };
  let table: Table;
  try {
    table = await readTable(path);
  } catch (e) {
    return { c: { status: "partial", rows: 0, columns: [], message: `${path} is unreadable: ${(e as Error).message}`, at }, table: null };
  }
  const problems: string[] = [];
  if (want?.rows !== undefined && table.rows.length !== want.rows) problems.push(`${table.rows.length} rows, but the config promised ${want.rows}`);
  const lacking = (want?.columns ?? []).filter((c) => !table.columns.includes(c));
  if (lacking.length) problems.push(`promised column(s) ${lacking.join(", ")} missing (has ${table.columns.join(", ")})`);
  if (reference) {
    const miss = reference.filter((c) => !table.columns.includes(c));
    const extra = table.columns.filter((c) => !reference.includes(c));
    if (miss.length || extra.length)
      problems.push(`columns differ from the first job's:${miss.length ? ` missing ${miss.join(", ")}` : ""}${extra.length ? ` extra ${extra.join(", ")}` : ""}`);
  }
  const trouble = resultsTrouble(dir);
  if (trouble) problems.push(trouble);
  return { c: { status: problems.length ? "partial" : "ok", rows: table.rows.length, columns: table.columns, message: problems.join("; "), at }, table };
}

/**
 * Merges the tables of a run's jobs (see the module header). `run` is a run directory or an
 * output root (its newest run).
 *
 * ```ts
 * const { table, parquet } = await collect("runs/inference/run_20250101T120000Z");
 * console.log(`${table.rows.length} rows in ${parquet}`);
 * ```
 */
export async function collect(run?: string, opts: CollectOptions = {}): Promise<CollectResult> {
  const m = RunManifest.open(findRun(run));
  const col = opts.strategyColumn ?? "strategy";
  const base = join(m.dir, opts.name ?? "results");
  const columns: string[] = [col];
  const rows: Row[] = [];
  const jobs: CollectResult["jobs"] = [];
  let reference: string[] | null = null;
  let files = { parquet: `${base}.parquet`, csv: `${base}.csv` };
  const merged: string[] = [];
  for (const j of m.data.jobs) {
    const { c, table } = await takeJob(m, j, reference);
    if (table) {
      if (table.columns.includes(col))
        throw new UsageError(`${j.strategy}'s table already has a "${col}" column: pick another name for the added column (--strategy-column)`, { op: "collect" });
      reference ??= table.columns;
      for (const c2 of table.columns) if (!columns.includes(c2)) columns.push(c2);
      for (const r of table.rows) rows.push({ [col]: j.strategy, ...r });
      merged.push(j.strategy);
    }
    j.collect = c;
    jobs.push({ strategy: j.strategy, ...c });
    // Checkpoint: the table so far, then the manifest that says which jobs it holds.
    files = writeTable(base, { columns, rows });
    m.data.collected = { parquet: relative(m.dir, files.parquet), csv: relative(m.dir, files.csv), rows: rows.length, jobs: [...merged], at: new Date().toISOString() };
    m.save();
  }
  return { manifest: m, table: { columns, rows }, ...files, jobs };
}
