/**
 * `runJob`: starts a real job on this machine (one process per rank, real sockets, the launcher
 * `zmpi launch` uses) and hands back each rank's exit status and output lines, for tests that
 * check what a program does on 1 and on N processes.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { launch } from "../../launcher/launch.js";
import { UsageError } from "../errors.js";

/** Options of {@link runJob}. */
export interface RunJobOptions {
  /** Number of ranks. */
  np: number;
  /** Pretend nodes the ranks are spread over in blocks, like Slurm (default 1). */
  nodes?: number;
  /** The program: a path (relative to the working directory) or a `file:` URL; `.ts` runs through tsx. */
  script: string | URL;
  /** Its arguments. */
  args?: string[];
  /** Extra environment for every rank. */
  env?: Record<string, string>;
  /** Stop the job after this many seconds (status 124). Default 120. */
  timeoutSec?: number;
  /** Give the ranks real `SLURM_*` variables instead of zmpi's, so the Slurm code path runs. */
  slurmEnv?: boolean;
}

/** One rank's part of a {@link JobOutput}. */
export interface RankOutput {
  rank: number;
  /** Exit status (128 + signal number when killed); undefined if the rank never ended (cannot happen once runJob resolves, kept for forward compatibility). */
  code?: number;
  /** What the rank printed on stdout, line by line, without the `[rank] ` prefix. */
  lines: string[];
  /** What the rank printed on stderr, line by line. */
  errLines: string[];
}

/** What {@link runJob} resolves with. */
export interface JobOutput {
  /** The job's status: 0, or the first failing rank's status (124 when the time limit stopped it). */
  code: number;
  /** By rank. */
  ranks: RankOutput[];
  /** All output as the launcher prints it: every rank's lines prefixed `[rank] `, and its own messages. */
  stdout: string;
  stderr: string;
  /** Wall time of the job, ms. */
  ms: number;
}

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString("utf8") };
}

function split(text: string, ranks: RankOutput[], key: "lines" | "errLines"): void {
  for (const line of text.split("\n")) {
    const m = /^\[(\d+)\] (.*)$/s.exec(line);
    if (m) ranks[Number(m[1])]?.[key].push(m[2]!);
  }
}

function check(opts: RunJobOptions): string {
  if (!Number.isSafeInteger(opts.np) || opts.np < 1) throw new UsageError(`np must be a positive integer, got ${opts.np}`, { op: "runJob" });
  const nodes = opts.nodes ?? 1;
  if (!Number.isSafeInteger(nodes) || nodes < 1 || nodes > opts.np) throw new UsageError(`nodes must be an integer from 1 to np (${opts.np}), got ${nodes}`, { op: "runJob" });
  if (opts.timeoutSec !== undefined && !(opts.timeoutSec > 0)) throw new UsageError(`timeoutSec must be a positive number, got ${opts.timeoutSec}`, { op: "runJob" });
  const script = opts.script instanceof URL || opts.script.startsWith("file:") ? fileURLToPath(opts.script) : resolve(opts.script);
  if (!existsSync(script)) throw new UsageError(`script ${script} does not exist`, { op: "runJob" });
  return script;
}

/**
 * Runs `script` on `np` local ranks and resolves when every rank has ended, never rejecting for a
 * failing job (its status says so). Rejects with a `UsageError` for bad options, before starting
 * anything.
 *
 * ```ts
 * const job = await runJob({ np: 4, script: new URL("../app.mjs", import.meta.url) });
 * expect(job.code).toBe(0);
 * expect(job.ranks[3].lines).toContain("rank 3 of 4");
 * ```
 */
export async function runJob(opts: RunJobOptions): Promise<JobOutput> {
  const script = check(opts);
  const out = sink();
  const err = sink();
  const ranks: RankOutput[] = Array.from({ length: opts.np }, (_, rank) => ({ rank, lines: [], errLines: [] }));
  const t0 = performance.now();
  const code = await launch({
    np: opts.np,
    nodes: opts.nodes,
    script,
    args: opts.args,
    env: opts.env,
    timeoutSec: opts.timeoutSec ?? 120,
    slurmEnv: opts.slurmEnv,
    stdout: out.stream,
    stderr: err.stream,
    onRankExit: (rank, status) => (ranks[rank]!.code = status),
  });
  const ms = performance.now() - t0;
  const stdout = out.text();
  const stderr = err.text();
  split(stdout, ranks, "lines");
  split(stderr, ranks, "errLines");
  return { code, ranks, stdout, stderr, ms };
}
