/**
 * `run_<timestamp>/manifest.json`: every job of a run (strategy, job id, config, script, output
 * directory, submit time, state, exit code, elapsed, the scheduler's figures), what `collect`
 * made of each job's table, and where the summary is. Written whole, atomically (temp file,
 * fsync, rename) after every change, so a `zmpi wait` killed at any instant leaves the last
 * complete manifest and the next `zmpi status` picks the run up from it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { UsageError } from "../errors.js";
import { writeFileAtomic } from "../results/atomic.js";
import type { Executor } from "./render.js";
import type { JobInfo } from "./scheduler.js";

/** What `collect` found for one job. */
export interface JobCollect {
  /** `ok`: the table is merged; `missing`: no table; `partial`: fewer rows or columns than promised; `failed`: the job did not complete; `skipped`: its config says `results.collect: false`. */
  status: "ok" | "missing" | "partial" | "failed" | "skipped";
  rows: number;
  columns: string[];
  message: string;
  at: string;
}

/** One job of a run: what it is, and what the scheduler last said about it (state, exit code, times). */
export interface RunJob extends Omit<JobInfo, "via" | "sacct"> {
  /** Strategy (job) name: also its directory in the run. */
  strategy: string;
  /** True for the experiment's single-process baseline. */
  baseline?: boolean;
  jobId: string;
  /** The config file it came from (absolute), if any. */
  config: string | null;
  /** Script and job directory, relative to the run directory. */
  script: string;
  dir: string;
  /** Results table the job promised, relative to its directory. */
  table: string;
  /** Job ids this one waited for (`afterok`). */
  dependsOn: string[];
  submittedAt: string;
  /** Where the state came from: sacct, scontrol, squeue, the job's exit marker, or its process. */
  via: JobInfo["via"] | null;
  /** sacct's figures (MaxRSS, TotalCPU, AllocCPUS, ...), when the cluster keeps accounting. */
  sacct: Record<string, string> | null;
  collect: JobCollect | null;
}

/** The manifest's content. */
export interface RunManifestData {
  version: 1;
  /** `run_<timestamp>`. */
  run: string;
  executor: Executor;
  createdAt: string;
  updatedAt: string;
  experiment: { name: string; source: string | null; summary?: unknown } | null;
  jobs: RunJob[];
  /** The merged table, once collected. */
  collected: { parquet: string; csv: string; rows: number; jobs: string[]; at: string } | null;
  /** The summary files, once written. */
  summary: { csv: string; md: string; plots: string[]; matched: number; compared: number; at: string } | null;
}

/** File name of the manifest in a run directory. */
const MANIFEST = "manifest.json";

/** A run's manifest: read it, change it, save it (atomically). */
export class RunManifest {
  private constructor(
    /** Absolute run directory. */
    readonly dir: string,
    /** Current content. */
    readonly data: RunManifestData,
  ) {}

  /** Path of `manifest.json`. */
  get path(): string {
    return join(this.dir, MANIFEST);
  }

  /** Creates a fresh run directory `run_<UTC timestamp>` under `root` (never reusing one). */
  static create(root: string, executor: Executor, experiment: RunManifestData["experiment"]): RunManifest {
    mkdirSync(root, { recursive: true });
    const stamp = new Date()
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d+Z$/, "Z");
    for (let i = 0; i < 1000; i++) {
      const name = `run_${stamp}${i ? `-${i}` : ""}`;
      const dir = resolve(root, name);
      try {
        mkdirSync(dir); // fails if it exists: two submits in one second get two runs
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") continue;
        throw e;
      }
      const now = new Date().toISOString();
      const m = new RunManifest(dir, { version: 1, run: name, executor, createdAt: now, updatedAt: now, experiment, jobs: [], collected: null, summary: null });
      m.save();
      return m;
    }
    throw new UsageError(`cannot make a new run directory under ${root}`, { op: "submit" });
  }

  /** Reads the manifest of a run directory. */
  static open(dir: string): RunManifest {
    const abs = resolve(dir);
    const p = join(abs, MANIFEST);
    if (!existsSync(p)) throw new UsageError(`${abs} is not a run: it has no ${MANIFEST} (runs are made by "zmpi submit")`, { op: "status" });
    let data: RunManifestData;
    try {
      data = JSON.parse(readFileSync(p, "utf8")) as RunManifestData;
    } catch (e) {
      throw new UsageError(`${p} is not valid JSON (${(e as Error).message}); it is only ever replaced whole, so something else wrote it`, { op: "status" });
    }
    if (data.version !== 1 || !Array.isArray(data.jobs)) throw new UsageError(`${p} is not a zmpi run manifest (version ${String(data.version)})`, { op: "status" });
    return new RunManifest(abs, data);
  }

  /** Saves the whole manifest atomically. */
  save(): void {
    this.data.updatedAt = new Date().toISOString();
    writeFileAtomic(this.path, `${JSON.stringify(this.data, null, 2)}\n`);
  }

  /** Absolute directory of a job. */
  jobDir(j: RunJob): string {
    return join(this.dir, j.dir);
  }

  /** Records what the scheduler said about a job; true if anything changed. */
  update(j: RunJob, info: JobInfo): boolean {
    const before = JSON.stringify(j);
    j.state = info.state;
    j.exitCode = info.exitCode ?? j.exitCode;
    j.elapsedSec = info.elapsedSec ?? j.elapsedSec;
    j.startedAt = info.startedAt ?? j.startedAt;
    j.endedAt = info.endedAt ?? j.endedAt;
    j.nodeList = info.nodeList ?? j.nodeList;
    j.via = info.via;
    if (info.sacct) j.sacct = info.sacct;
    return JSON.stringify(j) !== before;
  }
}

/**
 * The run a command means: a run directory itself, or the newest `run_*` under an output root
 * (default `runs`).
 */
export function findRun(pathOrRoot = "runs"): string {
  const abs = resolve(pathOrRoot);
  if (existsSync(join(abs, MANIFEST))) return abs;
  if (!existsSync(abs)) throw new UsageError(`${abs} does not exist: name a run directory (run_<timestamp>) or the output root holding runs`, { op: "status" });
  const runs = readdirSync(abs)
    .filter((n) => n.startsWith("run_") && existsSync(join(abs, n, MANIFEST)))
    .map((n) => ({ n, t: statSync(join(abs, n, MANIFEST)).birthtimeMs || statSync(join(abs, n)).mtimeMs }))
    .sort((a, b) => (a.n < b.n ? 1 : a.n > b.n ? -1 : b.t - a.t));
  if (runs.length === 0) throw new UsageError(`no run under ${abs} (no run_*/${MANIFEST}); submit one with "zmpi submit <config>"`, { op: "status" });
  return join(abs, runs[0]!.n);
}
