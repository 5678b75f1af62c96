/**
 * The bench driver: makes the plan, starts the ranks with `launch()` running osu.ts, turns rank
 * 0's event lines into OSU-style tables as they arrive, and writes `<out>/<name>.csv` and `.json`.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { launch } from "../launch.js";
import { ANCHOR_STACKS, compareAnchors, defaultAnchorsPath, formatAnchors, loadAnchors, repoRoot, type AnchorResult } from "./anchors.js";
import { LIVE_STACKS, liveAnchorsUnavailable, runLiveAnchors } from "./live-anchors.js";
import { makePlan, type BenchmarkName, type PlanOptions } from "./plan.js";
import { skipLine, tableHeader, tableRow, toCsv, toJson } from "./report.js";
import { LINE_MARK, type BenchEvent, type BenchRecord, type BenchReport, type BenchStatus, type MachineInfo } from "./types.js";

/** Options of {@link runBench}. */
export interface BenchOptions extends PlanOptions {
  /** Ranks (default 2). */
  np?: number;
  /** Pretend nodes the ranks are spread over (default 1): ranks 0 and 1 are then on different nodes when np = nodes = 2. */
  nodes?: number;
  /** Output folder (default `bench-results` in the current directory). */
  out?: string;
  /** File base name (default `osu-np<N>`). */
  name?: string;
  /** Forwarded to every rank as `ZMPI_ALGORITHM` (e.g. `ring`, or `allreduce=ring,bcast=binomial`). */
  algorithm?: string;
  /** Print and store the comparison with the anchor measurements. */
  compareAnchors?: boolean;
  /** Anchors file (default `../shared/anchors/results.json` from the repo root). */
  anchorsPath?: string;
  /** With compareAnchors: also run Open MPI's mpi_bench.c now, before and after ours, when mpirun is here (default true). */
  liveAnchors?: boolean;
  /** Stop the whole job after this many seconds (default 3600). */
  timeoutSec?: number;
  /** The command line, recorded in the JSON. */
  command?: string;
  /** Where tables and rank output go (tests capture them). */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

/** What a run produced. */
export interface BenchOutcome {
  /** The launcher's exit status (0 when every rank succeeded). */
  code: number;
  report: BenchReport;
  csvPath: string;
  jsonPath: string;
}

/** The rank program next to this module: osu.ts under tsx, osu.js from the build. */
export function rankScript(): string {
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return fileURLToPath(new URL(`./osu${ext}`, import.meta.url));
}

function readVersion(path: string): string {
  try {
    return (JSON.parse(readFileSync(path, "utf8")) as { version?: string }).version ?? "unknown";
  } catch {
    return "unknown";
  }
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync("/etc/os-release", "utf8"));
    if (m) return m[1]!;
  } catch {
    // not Linux, or no os-release: fall back to the kernel's name
  }
  return `${os.type()} ${os.release()}`;
}

/** Machine and versions for the JSON file. */
export function machineInfo(): MachineInfo {
  const root = repoRoot();
  return {
    date: new Date().toISOString(),
    zmpiVersion: readVersion(join(root, "package.json")),
    node: process.version,
    v8: process.versions.v8,
    os: osName(),
    kernel: os.release(),
    arch: process.arch,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    cpus: os.cpus().length,
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    hostname: os.hostname(),
    zeromq: readVersion(join(root, "node_modules", "zeromq", "package.json")),
  };
}

/** Splits a byte stream into lines and hands each to `onLine`. */
class LineSplitter extends Writable {
  private rest = "";
  constructor(private readonly onLine: (line: string) => void) {
    super();
  }
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    const text = this.rest + chunk.toString();
    const lines = text.split("\n");
    this.rest = lines.pop()!;
    for (const l of lines) this.onLine(l);
    cb();
  }
  override _final(cb: (e?: Error | null) => void): void {
    if (this.rest) this.onLine(this.rest);
    this.rest = "";
    cb();
  }
}

/** Runs the benchmarks; never throws for a failing job (the outcome's code says it). */
export async function runBench(o: BenchOptions = {}): Promise<BenchOutcome> {
  const np = o.np ?? 2;
  // Across pretend nodes the bare pair goes over tcp too, like zmpi's ranks there.
  const plan = makePlan({ ...o, rawTransport: o.rawTransport ?? ((o.nodes ?? 1) > 1 ? "tcp" : "ipc") });
  const out = o.stdout ?? process.stdout;
  const err = o.stderr ?? process.stderr;
  const records: BenchRecord[] = [];
  const status = new Map<BenchmarkName, BenchStatus>();
  const rawShown = new Map<BenchmarkName, boolean>();
  const mark = `[0] ${LINE_MARK}`;

  const onEvent = (ev: BenchEvent) => {
    switch (ev.type) {
      case "begin":
        rawShown.set(ev.benchmark, ev.raw);
        status.set(ev.benchmark, { name: ev.benchmark, status: "failed", reason: "did not finish" });
        out.write(`${tableHeader(ev.benchmark, ev.np, ev.raw && plan.rawTransport, o.algorithm, ev.singleCopy, ev.timing)}\n`);
        break;
      case "row":
        records.push(ev.record);
        out.write(`${tableRow(ev.record, rawShown.get(ev.record.benchmark) ?? false)}\n`);
        break;
      case "skip":
        status.set(ev.benchmark, { name: ev.benchmark, status: "skipped", reason: ev.reason });
        out.write(`${skipLine(ev.benchmark, ev.reason)}\n\n`);
        break;
      case "end":
        status.set(ev.benchmark, { name: ev.benchmark, status: "ok" });
        out.write("\n");
        break;
    }
  };
  const stdoutLines = new LineSplitter((line) => {
    if (line.startsWith(mark)) onEvent(JSON.parse(line.slice(mark.length)) as BenchEvent);
    else out.write(`${line}\n`);
  });

  const env: Record<string, string> = { ZMPI_BENCH_PLAN: JSON.stringify(plan) };
  if (o.algorithm) env.ZMPI_ALGORITHM = o.algorithm;
  // Open MPI busy-polls: its "before" run must end before our job starts, or both share the cores.
  const live = o.compareAnchors && o.liveAnchors !== false ? await liveBefore(np, out) : null;
  const t0 = Date.now();
  const code = await launch({ np, nodes: o.nodes, script: rankScript(), env, timeoutSec: o.timeoutSec ?? 3600, stdout: stdoutLines, stderr: err });
  await new Promise<void>((res) => stdoutLines.end(res));
  const wallSeconds = (Date.now() - t0) / 1000;
  const liveRows = live ? [...live, ...(await runLiveAnchors(np, 1, (l) => out.write(`${l}\n`)))] : [];

  const benchmarks: BenchStatus[] = plan.benchmarks.map(
    (b) => status.get(b.name) ?? { name: b.name, status: "failed", reason: code === 0 ? "never started" : `job exited with status ${code} before it` },
  );
  const report: BenchReport = {
    meta: {
      ...machineInfo(),
      np,
      nodes: o.nodes ?? 1,
      command: o.command ?? "",
      algorithm: o.algorithm ?? null,
      rawTransport: plan.raw ? plan.rawTransport : null,
      batches: plan.batches,
      wallSeconds,
      exitCode: code,
    },
    benchmarks,
    results: records,
  };

  if (o.compareAnchors) {
    const path = resolve(o.anchorsPath ?? defaultAnchorsPath());
    const anchors = loadAnchors(path);
    if (anchors === null) out.write(`# --compare-anchors: ${path} not found; no comparison\n`);
    else {
      const rows = compareAnchors(records, [...liveRows, ...anchors], np, liveRows.length ? [...LIVE_STACKS, ...ANCHOR_STACKS] : ANCHOR_STACKS);
      report.anchors = { path, rows };
      if (!liveRows.length && !anchors.some((a) => a.np === np)) out.write(`# --compare-anchors: the anchors have no np=${np} rows (they cover np=2 and np=4)\n`);
      else out.write(`${formatAnchors(rows, np, path)}\n\n`);
    }
  }

  const dir = resolve(o.out ?? "bench-results");
  mkdirSync(dir, { recursive: true });
  const base = o.name ?? `osu-np${np}${(o.nodes ?? 1) > 1 ? `-nodes${o.nodes}` : ""}`;
  const csvPath = join(dir, `${base}.csv`);
  const jsonPath = join(dir, `${base}.json`);
  writeFileSync(csvPath, toCsv(records));
  writeFileSync(jsonPath, toJson(report));
  out.write(`# wrote ${csvPath} and ${jsonPath} (${wallSeconds.toFixed(1)} s)\n`);
  for (const b of benchmarks) if (b.status === "failed") err.write(`zmpi bench: ${b.name} failed: ${b.reason}\n`);
  return { code, report, csvPath, jsonPath };
}

/**
 * The live anchors' first run, before zmpi's job (the second runs after it, so Open MPI's figures
 * bracket ours in time); null with a note when mpirun or mpicc is not here.
 */
function liveBefore(np: number, out: NodeJS.WritableStream): Promise<AnchorResult[]> | null {
  const why = liveAnchorsUnavailable();
  if (why) {
    out.write(`# --compare-anchors: no live Open MPI run (${why}); stored anchors only\n`);
    return null;
  }
  out.write(`# --compare-anchors: running Open MPI's mpi_bench.c on ${np} ranks (tcp, shm) before and after zmpi's job\n`);
  return runLiveAnchors(np, 0, (l) => out.write(`${l}\n`));
}
