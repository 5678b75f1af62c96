/**
 * Talking to the scheduler: submit a rendered script, ask what became of a job.
 *
 * Slurm: `sbatch --parsable` submits; `sacct` answers when the cluster keeps accounting (state,
 * exit code, elapsed, MaxRSS); otherwise `scontrol show job` (and `squeue` when scontrol has
 * nothing) while the controller still remembers the job; after that, the exit marker the rendered
 * script leaves in the job directory (`job.exit`). Local: the script runs detached under `bash`,
 * the job id is its pid, and the same marker says how it ended.
 *
 * Every command runs with a deadline, so a wedged controller is an error, never a hang.
 */
import { execFile, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ZmpiError } from "../errors.js";

/** Slurm job states (and LOST: the job is known nowhere, and left no marker). */
export type JobState =
  | "PENDING"
  | "RUNNING"
  | "COMPLETING"
  | "COMPLETED"
  | "FAILED"
  | "CANCELLED"
  | "TIMEOUT"
  | "NODE_FAIL"
  | "OUT_OF_MEMORY"
  | "PREEMPTED"
  | "SUSPENDED"
  | "LOST"
  | "UNKNOWN";

/** States after which a job will not change. */
export const FINAL_STATES: ReadonlySet<JobState> = new Set(["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "LOST"]);

/** What the scheduler says about one job now. */
export interface JobInfo {
  state: JobState;
  exitCode: number | null;
  elapsedSec: number | null;
  startedAt: string | null;
  endedAt: string | null;
  nodeList: string | null;
  /** Where the answer came from. */
  via: "sacct" | "scontrol" | "squeue" | "marker" | "process";
  /** sacct's own figures (MaxRSS, AllocCPUS, ...), when sacct answered. */
  sacct?: Record<string, string>;
}

/** A scheduler command that failed or passed its deadline. */
export class SchedulerError extends ZmpiError {}

/** Runs a command with a deadline; resolves with its outcome (never rejects for a non-zero exit). */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: opts.timeoutMs ?? 30_000, cwd: opts.cwd, env: opts.env, maxBuffer: 16 << 20, encoding: "utf8" }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout, stderr, error: err ?? undefined });
    });
  });
}

/** The exit marker the rendered script writes: `<code> <ISO end time>`. */
export const EXIT_MARKER = "job.exit";

/** Reads a job directory's exit marker, if the script got that far. */
function readExitMarker(jobDir: string): { code: number; endedAt: string | null } | null {
  const p = join(jobDir, EXIT_MARKER);
  if (!existsSync(p)) return null;
  const m = /^(\d+)(?:\s+(\S+))?/.exec(readFileSync(p, "utf8").trim());
  return m ? { code: Number(m[1]), endedAt: m[2] ?? null } : null;
}

/** Options of {@link submitSlurm}. */
interface SlurmSubmitOptions {
  /** Job ids this one waits for (`--dependency=afterok:…`). */
  afterOk?: readonly string[];
  /** Directory sbatch runs in (the job's working directory unless the script says --chdir). */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** `sbatch --parsable [--dependency=afterok:a:b] script` → the job id. */
export async function submitSlurm(script: string, o: SlurmSubmitOptions = {}): Promise<string> {
  const args = ["--parsable", ...(o.afterOk?.length ? [`--dependency=afterok:${o.afterOk.join(":")}`, "--kill-on-invalid-dep=yes"] : []), script];
  const r = await run("sbatch", args, { cwd: o.cwd, env: o.env, timeoutMs: o.timeoutMs ?? 60_000 });
  const id = /^(\d+)(;\S+)?\s*$/m.exec(r.stdout)?.[1];
  if (r.code !== 0 || !id) {
    const why =
      r.error && r.code === null
        ? r.error.message.includes("ENOENT")
          ? "sbatch is not installed here (use the local executor: --local)"
          : `sbatch did not answer in time (${r.error.message})`
        : r.stderr.trim() || r.stdout.trim();
    throw new SchedulerError(`sbatch ${script} failed: ${why}`, { op: "submit" });
  }
  return id;
}

/**
 * Starts a rendered local script detached (it outlives this process, as a Slurm job would),
 * output to `outFile`; `afterOk` pids are waited for first by the script's own wrapper.
 */
export function submitLocal(script: string, jobDir: string, outFile: string, afterOkDirs: readonly string[] = []): string {
  const fd = openSync(outFile, "a");
  try {
    // The wrapper waits for its dependencies' markers (exit 0, else it fails as afterok would),
    // then runs the script and leaves this job's own marker.
    const wait = afterOkDirs
      .map(
        (d) =>
          `while [ ! -f ${q(join(d, EXIT_MARKER))} ]; do sleep 0.5; done; read c _ < ${q(join(d, EXIT_MARKER))}; [ "$c" = 0 ] || { echo "dependency ${d} failed (exit $c)" >&2; echo "1 $(date -u +%FT%TZ)" > ${q(join(jobDir, EXIT_MARKER))}.tmp; mv ${q(join(jobDir, EXIT_MARKER))}.tmp ${q(join(jobDir, EXIT_MARKER))}; exit 1; };`,
      )
      .join(" ");
    const body = `${wait} bash ${q(script)}; c=$?; echo "$c $(date -u +%FT%TZ)" > ${q(join(jobDir, EXIT_MARKER))}.tmp; mv ${q(join(jobDir, EXIT_MARKER))}.tmp ${q(join(jobDir, EXIT_MARKER))}; exit $c`;
    const child = spawn("bash", ["-c", body], { detached: true, stdio: ["ignore", fd, fd], cwd: process.cwd() });
    child.unref();
    if (child.pid === undefined) throw new SchedulerError(`could not start ${script}`, { op: "submit" });
    return `local-${child.pid}`;
  } finally {
    closeSync(fd);
  }
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

let sacctWorks: boolean | null = null;

/** True when `sacct` exists and the cluster keeps accounting (checked once per process). */
async function hasAccounting(): Promise<boolean> {
  if (sacctWorks === null) {
    const r = await run("sacct", ["-n", "-X", "-P", "-o", "JobID", "-S", "now"], { timeoutMs: 15_000 });
    sacctWorks = r.code === 0 && !/disabled|not running|error/i.test(r.stderr);
  }
  return sacctWorks;
}

function seconds(hms: string | undefined): number | null {
  if (!hms) return null;
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(hms);
  if (!m) return null;
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

const isoOrNull = (s: string | undefined) => (!s || s === "Unknown" || s === "None" || s === "N/A" ? null : s);

function normState(s: string | undefined): JobState {
  const w = (s ?? "").split(/[\s+]/)[0]!.toUpperCase();
  if (w.startsWith("CANCELLED")) return "CANCELLED";
  const known: JobState[] = ["PENDING", "RUNNING", "COMPLETING", "COMPLETED", "FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "SUSPENDED"];
  return (known as string[]).includes(w) ? (w as JobState) : "UNKNOWN";
}

const SACCT_FIELDS = ["JobIDRaw", "State", "ExitCode", "ElapsedRaw", "Start", "End", "NodeList", "AllocCPUS", "MaxRSS", "TotalCPU"];

async function viaSacct(ids: readonly string[]): Promise<Map<string, JobInfo>> {
  const out = new Map<string, JobInfo>();
  const r = await run("sacct", ["-n", "-P", "-j", ids.join(","), "-o", SACCT_FIELDS.join(",")], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new SchedulerError(`sacct failed: ${r.stderr.trim()}`, { op: "status" });
  const maxRss = new Map<string, string>();
  for (const line of r.stdout.split("\n").filter(Boolean)) {
    const f = line.split("|");
    const rec = Object.fromEntries(SACCT_FIELDS.map((k, i) => [k, f[i] ?? ""]));
    const [job, step] = rec.JobIDRaw!.split(".");
    if (step !== undefined) {
      // MaxRSS is per step: keep the largest.
      if (rec.MaxRSS && (!maxRss.has(job!) || parseMem(rec.MaxRSS) > parseMem(maxRss.get(job!)!))) maxRss.set(job!, rec.MaxRSS);
      continue;
    }
    out.set(job!, {
      state: normState(rec.State),
      exitCode: rec.ExitCode ? Number(rec.ExitCode.split(":")[0]) : null,
      elapsedSec: rec.ElapsedRaw ? Number(rec.ElapsedRaw) : null,
      startedAt: isoOrNull(rec.Start),
      endedAt: isoOrNull(rec.End),
      nodeList: isoOrNull(rec.NodeList),
      via: "sacct",
      sacct: rec,
    });
  }
  for (const [job, rss] of maxRss) {
    const info = out.get(job);
    if (info?.sacct) info.sacct.MaxRSS = rss;
  }
  return out;
}

function parseMem(s: string): number {
  const m = /^([\d.]+)([KMGT]?)/.exec(s);
  return m ? Number(m[1]) * 1024 ** " KMGT".indexOf(m[2] || " ") : 0;
}

/** `scontrol show job -o <id>` as key=value pairs, or null when the controller no longer knows it. */
async function scontrolJob(id: string): Promise<Record<string, string> | null> {
  const r = await run("scontrol", ["show", "job", "-o", id], { timeoutMs: 20_000 });
  if (r.code !== 0) {
    if (/Invalid job id/i.test(r.stderr)) return null;
    throw new SchedulerError(`scontrol show job ${id} failed: ${r.stderr.trim() || r.error?.message}`, { op: "status" });
  }
  const rec: Record<string, string> = {};
  for (const m of r.stdout.matchAll(/(\w+(?::\w+)?)=(\S*)/g)) rec[m[1]!] ??= m[2]!;
  return rec;
}

async function viaSqueue(id: string): Promise<JobInfo | null> {
  const r = await run("squeue", ["-h", "-j", id, "-o", "%T|%M|%N|%S"], { timeoutMs: 20_000 });
  const line = r.code === 0 ? r.stdout.trim().split("\n")[0] : undefined;
  if (!line) return null;
  const [state, elapsed, nodes, start] = line.split("|");
  return { state: normState(state), exitCode: null, elapsedSec: seconds(elapsed), startedAt: isoOrNull(start), endedAt: null, nodeList: isoOrNull(nodes), via: "squeue" };
}

/** Where a job's answer can come from when the scheduler has none: its directory's marker. */
interface JobRef {
  jobId: string;
  dir: string;
}

function fromMarker(ref: JobRef): JobInfo | null {
  const m = readExitMarker(ref.dir);
  if (!m) return null;
  return { state: m.code === 0 ? "COMPLETED" : "FAILED", exitCode: m.code, elapsedSec: null, startedAt: null, endedAt: m.endedAt, nodeList: null, via: "marker" };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** What became of each job (Slurm or local ids). */
export async function queryJobs(refs: readonly JobRef[]): Promise<Map<string, JobInfo>> {
  const out = new Map<string, JobInfo>();
  const slurm = refs.filter((r) => !r.jobId.startsWith("local-"));
  for (const r of refs.filter((x) => x.jobId.startsWith("local-"))) {
    const marker = fromMarker(r);
    const alive = pidAlive(Number(r.jobId.slice("local-".length)));
    out.set(r.jobId, marker ?? { state: alive ? "RUNNING" : "LOST", exitCode: null, elapsedSec: null, startedAt: null, endedAt: null, nodeList: null, via: "process" });
  }
  if (slurm.length === 0) return out;
  if (await hasAccounting()) {
    const got = await viaSacct(slurm.map((r) => r.jobId));
    for (const r of slurm) {
      const info = got.get(r.jobId);
      if (info) out.set(r.jobId, info);
    }
  }
  for (const r of slurm) {
    if (out.has(r.jobId)) continue;
    const rec = await scontrolJob(r.jobId);
    if (rec) {
      const state = normState(rec.JobState);
      out.set(r.jobId, {
        state,
        // scontrol shows ExitCode=0:0 while a job runs: only a final state's code means anything.
        exitCode: rec.ExitCode && FINAL_STATES.has(state) ? Number(rec.ExitCode.split(":")[0]) : null,
        elapsedSec: seconds(rec.RunTime),
        startedAt: isoOrNull(rec.StartTime),
        endedAt: isoOrNull(rec.EndTime),
        nodeList: isoOrNull(rec.NodeList),
        via: "scontrol",
      });
      continue;
    }
    const info = (await viaSqueue(r.jobId)) ?? fromMarker(r);
    out.set(r.jobId, info ?? { state: "LOST", exitCode: null, elapsedSec: null, startedAt: null, endedAt: null, nodeList: null, via: "scontrol" });
  }
  return out;
}
