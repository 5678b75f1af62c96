/**
 * The records rank 0 reports and the driver prints, writes and compares. Times are microseconds;
 * bandwidth is MB/s with 1 MB = 10^6 B (OSU's and the anchors' unit).
 */
import type { BenchmarkName, CollectiveTiming } from "./plan.js";

/** Timing of one stack (zmpi or bare zeromq.js) at one size. */
export interface Timing {
  /** Mean over all timed iterations (p2p: half round trip / per-message time; collectives: mean over ranks of each rank's mean). */
  avg_us: number;
  /** p2p: fastest batch; collectives: the rank with the lowest mean (OSU's Min Latency). */
  min_us: number;
  /** p2p: slowest batch; collectives: the rank with the highest mean (OSU's Max Latency). */
  max_us: number;
  /** Median over batches (collectives: of the per-batch max over ranks), the statistic the anchors report. */
  median_us: number;
  /** Timed iterations (bw: windows). */
  iterations: number;
  /** MB/s: bw = bytes moved / time; collectives = size / avg (algorithm bandwidth); absent for latency and barrier. */
  mbps?: number;
}

/** One row: a benchmark at one size. */
export interface BenchRecord extends Timing {
  benchmark: BenchmarkName;
  np: number;
  /** Bytes per message (collectives: per rank; barrier: 0). */
  size: number;
  /** Untimed warm-up iterations. */
  warmup: number;
  /** bw: messages per window. */
  window?: number;
  /** The same measurement over bare zeromq.js sockets (latency and bw only). */
  raw?: Timing;
  /** zmpi time / raw time (>1 means zmpi is slower): latency avg ratio, bw inverse MB/s ratio. */
  ratio?: number;
}

/** How a benchmark ended. */
export interface BenchStatus {
  name: BenchmarkName;
  status: "ok" | "skipped" | "failed";
  reason?: string;
}

/** What rank 0 prints on stdout, one JSON object per line after {@link LINE_MARK}. */
export type BenchEvent =
  | { type: "begin"; benchmark: BenchmarkName; np: number; raw: boolean; singleCopy?: boolean; timing?: CollectiveTiming }
  | { type: "row"; record: BenchRecord }
  | { type: "skip"; benchmark: BenchmarkName; reason: string }
  | { type: "end"; benchmark: BenchmarkName };

/** Marks rank 0's machine-readable lines among ordinary output. */
export const LINE_MARK = "@@zmpi-bench ";

/** Machine and software the numbers came from. */
export interface MachineInfo {
  date: string;
  zmpiVersion: string;
  node: string;
  v8: string;
  os: string;
  kernel: string;
  arch: string;
  cpuModel: string;
  cpus: number;
  memGiB: number;
  hostname: string;
  zeromq?: string;
}

/** The whole JSON file. */
export interface BenchReport {
  meta: MachineInfo & {
    np: number;
    /** Pretend nodes (1: all ranks on this machine as one node; absent in reports from before `--nodes`). */
    nodes?: number;
    command: string;
    algorithm: string | null;
    rawTransport: "ipc" | "tcp" | null;
    batches: number;
    wallSeconds: number;
    exitCode: number;
  };
  benchmarks: BenchStatus[];
  results: BenchRecord[];
  /** With `--compare-anchors`: the comparison rows. */
  anchors?: { path: string; rows: AnchorRow[] };
}

/** One measurement compared with the anchors (`--compare-anchors`). */
export interface AnchorRow {
  label: string;
  /** zmpi's median (µs, or MB/s for bw); null when this run did not measure it. */
  zmpi: number | null;
  /** Per stack: anchor value (median over the anchor runs) and zmpi time / anchor time. */
  anchors: Array<{ stack: string; value: number | null; ratio: number | null }>;
}
