/**
 * Per-rank metrics, collected for free while the job runs (the engine's counters, the transport's
 * counters, `process.resourceUsage()`, `process.cpuUsage()`, the node's CPU time counters), gathered
 * to rank 0 on demand and written as `metrics.json` / printed as one table.
 *
 * System figures come from node:os and node:fs, not from a metrics library: the node's CPU
 * utilisation over the run is the difference of `os.cpus()` tick counters between this module's load
 * (at `init()`) and the gather, which a sampling library can only approximate with a sleep (~200 ms
 * per reading); memory in use is `os.totalmem() - os.freemem()` (libuv reads MemAvailable, the same
 * figure /proc/meminfo parsers report) and the cgroup limit is `process.constrainedMemory()`; the
 * free space of each results directory is `fs.statfs` of that directory (0.1 ms), where `df`-based
 * probes spawn a process (~20 ms) and report mount points, not the directory's file system.
 */
import { statfsSync } from "node:fs";
import { availableParallelism, cpus, freemem, hostname, loadavg, totalmem } from "node:os";
import { dirname, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import Table from "cli-table3";
import type { EngineCounters } from "../comm/engine.js";
import type { Communicator } from "../groups/communicator.js";
import type { TransportStats } from "../transport/transport.js";
import { writeFileAtomic } from "./atomic.js";

/** One rank's numbers. Times are ms; bytes are payload bytes. */
export interface RankMetrics {
  rank: number;
  host: string;
  node: string;
  pid: number;
  /** Wall time since the process started. */
  wallMs: number;
  /** Time spent inside point-to-point calls and collective calls, and how many calls. */
  p2pMs: number;
  p2pCalls: number;
  collectiveMs: number;
  collectiveCalls: number;
  /** Transport totals over every peer. */
  messagesSent: number;
  bytesSent: number;
  messagesReceived: number;
  bytesReceived: number;
  /** The same traffic by peer kind: this process, same node (ipc), other nodes (tcp). */
  byPeerKind: TransportStats["byPeerKind"];
  /** Peak resident set size of this process. */
  peakRssBytes: number;
  /** CPU time used by this process, and as a percentage of one core over the wall time. */
  cpuUserMs: number;
  cpuSystemMs: number;
  cpuPercent: number;
  /** Utilisation of all the node's CPUs (every process, not only this job's) since this rank started, percent; null when the platform gives no counters. */
  nodeCpuPercent: number | null;
  /** Memory in use on the node now (total minus available). */
  nodeMemoryInUseBytes: number;
}

/** The host rank 0 runs on, for context. */
export interface HostContext {
  host: string;
  cpuModel: string | null;
  cpus: number | null;
  memoryTotalBytes: number | null;
  memoryAvailableBytes: number | null;
  /** The cgroup's memory limit when it is below the machine's memory (a Slurm job's allocation), else null. */
  memoryLimitBytes: number | null;
  /** One-minute load average (null on Windows, which has none). */
  load1: number | null;
}

/** Space on the file system of a directory metrics were written to, measured just before writing. */
export interface DiskSpace {
  dir: string;
  /** Bytes this user may still write (null when the directory cannot be examined). */
  freeBytes: number | null;
  totalBytes: number | null;
}

/** What `metrics.json` holds. */
export interface MetricsReport {
  writtenAt: string;
  size: number;
  host: HostContext;
  /** Free space where the report (and the results beside it) went, before writing. */
  disks: DiskSpace[];
  ranks: RankMetrics[];
  /** Sums and maxima over ranks. */
  totals: { bytesSent: number; messagesSent: number; maxPeakRssBytes: number; maxWallMs: number; collectiveMs: number; p2pMs: number };
}

/** Where a rank's numbers come from (the world provides it). */
export interface MetricsSource {
  rank: number;
  node: string;
  counters: EngineCounters;
  transport(): TransportStats;
}

interface CpuTicks {
  busy: number;
  total: number;
}

/** The node's CPU time counters, summed over CPUs (ms): a reading for {@link nodeCpuPercent}. */
export function cpuTicks(): CpuTicks | null {
  const list = cpus();
  if (list.length === 0) return null;
  let busy = 0;
  let total = 0;
  for (const { times: t } of list) {
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, total };
}

/** Taken when the runtime loads (init() imports this module), so utilisation covers the run. */
const RUN_START = cpuTicks();

/** Busy share of the node's CPUs between `from` and now, percent. */
export function nodeCpuPercent(from: CpuTicks | null = RUN_START): number | null {
  const now = cpuTicks();
  if (from === null || now === null || now.total <= from.total) return null;
  return round((100 * (now.busy - from.busy)) / (now.total - from.total));
}

/** This rank's metrics, now. Cheap: no sampling, only counters the runtime and the kernel already keep. */
export function collectRankMetrics(src: MetricsSource): RankMetrics {
  const t = src.transport();
  const cpu = process.cpuUsage();
  const wallMs = performance.now();
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    rank: src.rank,
    host: hostname(),
    node: src.node,
    pid: process.pid,
    wallMs: round(wallMs),
    p2pMs: round(src.counters.p2pMs),
    p2pCalls: src.counters.p2pCalls,
    collectiveMs: round(src.counters.collectiveMs),
    collectiveCalls: src.counters.collectiveCalls,
    messagesSent: t.messagesSent,
    bytesSent: t.bytesSent,
    messagesReceived: t.messagesReceived,
    bytesReceived: t.bytesReceived,
    byPeerKind: t.byPeerKind,
    // resourceUsage().maxRSS is in KiB on every platform Node supports.
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    cpuUserMs: round(cpu.user / 1000),
    cpuSystemMs: round(cpu.system / 1000),
    cpuPercent: round(wallMs > 0 ? (100 * cpuMs) / wallMs : 0),
    nodeCpuPercent: nodeCpuPercent(),
    nodeMemoryInUseBytes: totalmem() - freemem(),
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Host context, from node:os (cheap: no sampling). */
export function hostContext(): HostContext {
  const list = cpus();
  const total = totalmem();
  const limit = process.constrainedMemory?.() ?? 0;
  return {
    host: hostname(),
    cpuModel: list[0]?.model ?? null,
    cpus: availableParallelism(),
    memoryTotalBytes: total,
    memoryAvailableBytes: freemem(),
    // constrainedMemory() is 0 without a limit and a huge number (2^64) with an unlimited cgroup.
    memoryLimitBytes: limit > 0 && limit < total ? limit : null,
    load1: process.platform === "win32" ? null : round(loadavg()[0]!),
  };
}

/**
 * Free and total space of the file system that holds `dir`, or would hold it once created (its
 * nearest existing ancestor's); nulls when it cannot be examined.
 */
export function diskSpace(dir: string): DiskSpace {
  const abs = resolve(dir);
  for (let at = abs; ; at = dirname(at)) {
    try {
      const s = statfsSync(at);
      return { dir: abs, freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT" || dirname(at) === at) return { dir: abs, freeBytes: null, totalBytes: null };
    }
  }
}

/** Collective: every rank's metrics on rank 0 (an array by rank), undefined elsewhere. */
export async function gatherMetrics(comm: Communicator, src: MetricsSource): Promise<RankMetrics[] | undefined> {
  // Taken before the gather, so the gather's own traffic is not counted.
  const mine = collectRankMetrics(src);
  return comm.gather(mine, 0);
}

/** Builds the report rank 0 writes into `dirs` (their free space is measured now, before writing). */
export function buildReport(ranks: RankMetrics[], dirs: readonly string[] = []): MetricsReport {
  return {
    writtenAt: new Date().toISOString(),
    size: ranks.length,
    host: hostContext(),
    disks: dirs.map(diskSpace),
    ranks,
    totals: {
      bytesSent: sum(ranks, (r) => r.bytesSent),
      messagesSent: sum(ranks, (r) => r.messagesSent),
      maxPeakRssBytes: Math.max(...ranks.map((r) => r.peakRssBytes)),
      maxWallMs: Math.max(...ranks.map((r) => r.wallMs)),
      collectiveMs: round(sum(ranks, (r) => r.collectiveMs)),
      p2pMs: round(sum(ranks, (r) => r.p2pMs)),
    },
  };
}

function sum(rs: RankMetrics[], f: (r: RankMetrics) => number): number {
  return rs.reduce((a, r) => a + f(r), 0);
}

/** Writes `metrics.json` atomically. */
export function writeMetrics(path: string, report: MetricsReport): void {
  writeFileAtomic(path, `${JSON.stringify(report, null, 2)}\n`);
}

function mib(b: number): string {
  return (b / 1048576).toFixed(1);
}

/** One table, a row per rank, for the terminal. */
export function formatMetricsTable(ranks: readonly RankMetrics[]): string {
  const table = new Table({
    head: ["rank", "host", "pid", "wall s", "coll ms (n)", "p2p ms (n)", "sent MiB (msgs)", "recv MiB (msgs)", "sent self/node/remote MiB", "peak RSS MiB", "CPU %", "node CPU %"],
    style: { head: [], border: [] },
  });
  for (const r of ranks) {
    table.push([
      r.rank,
      r.host,
      r.pid,
      (r.wallMs / 1000).toFixed(2),
      `${r.collectiveMs.toFixed(1)} (${r.collectiveCalls})`,
      `${r.p2pMs.toFixed(1)} (${r.p2pCalls})`,
      `${mib(r.bytesSent)} (${r.messagesSent})`,
      `${mib(r.bytesReceived)} (${r.messagesReceived})`,
      `${mib(r.byPeerKind.self.bytesSent)}/${mib(r.byPeerKind.node.bytesSent)}/${mib(r.byPeerKind.remote.bytesSent)}`,
      mib(r.peakRssBytes),
      r.cpuPercent.toFixed(0),
      r.nodeCpuPercent === null ? "-" : r.nodeCpuPercent.toFixed(0),
    ]);
  }
  return table.toString();
}
