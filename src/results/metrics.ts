/**
 * Per-rank metrics, collected for free while the job runs (the engine's counters, the transport's
 * counters, `process.resourceUsage()`, `process.cpuUsage()`), gathered to rank 0 on demand and
 * written as `metrics.json` / printed as one table. Host context (CPU model, memory, load) comes
 * from node-os-utils, once, on rank 0: its CPU sampling takes ~200 ms, too slow to do per rank.
 */
import { hostname } from "node:os";
import { performance } from "node:perf_hooks";
import Table from "cli-table3";
import { OSUtils } from "node-os-utils";
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
}

/** The host rank 0 runs on, for context. */
export interface HostContext {
  host: string;
  cpuModel: string | null;
  cpus: number | null;
  memoryTotalBytes: number | null;
  memoryAvailableBytes: number | null;
  load1: number | null;
}

/** What `metrics.json` holds. */
export interface MetricsReport {
  writtenAt: string;
  size: number;
  host: HostContext;
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

/** This rank's metrics, now. Cheap: no sampling, only counters the runtime already keeps. */
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
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Host context through node-os-utils (every probe may fail on an odd platform: then null). */
export async function hostContext(): Promise<HostContext> {
  const os = new OSUtils();
  const [cpu, mem, load] = await Promise.all([os.cpu.info(), os.memory.info(), os.cpu.loadAverage()]);
  return {
    host: hostname(),
    cpuModel: cpu.success ? cpu.data.model : null,
    cpus: cpu.success ? cpu.data.threads : null,
    memoryTotalBytes: mem.success ? mem.data.total.bytes : null,
    memoryAvailableBytes: mem.success ? mem.data.available.bytes : null,
    load1: load.success ? load.data.load1 : null,
  };
}

/** Collective: every rank's metrics on rank 0 (an array by rank), undefined elsewhere. */
export async function gatherMetrics(comm: Communicator, src: MetricsSource): Promise<RankMetrics[] | undefined> {
  // Taken before the gather, so the gather's own traffic is not counted.
  const mine = collectRankMetrics(src);
  return comm.gather(mine, 0);
}

/** Builds the report rank 0 writes. */
export async function buildReport(ranks: RankMetrics[]): Promise<MetricsReport> {
  return {
    writtenAt: new Date().toISOString(),
    size: ranks.length,
    host: await hostContext(),
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
  writeFileAtomic(path, JSON.stringify(report, null, 2) + "\n");
}

function mib(b: number): string {
  return (b / 1048576).toFixed(1);
}

/** One table, a row per rank, for the terminal. */
export function formatMetricsTable(ranks: readonly RankMetrics[]): string {
  const table = new Table({
    head: ["rank", "host", "pid", "wall s", "coll ms (n)", "p2p ms (n)", "sent MiB (msgs)", "recv MiB (msgs)", "sent self/node/remote MiB", "peak RSS MiB", "CPU %"],
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
    ]);
  }
  return table.toString();
}
