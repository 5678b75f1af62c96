/**
 * Output in OSU's shape: a `#` title and header per benchmark, then one fixed-width row per size
 * (printed as each row arrives, so a long run shows progress), plus CSV and JSON files.
 */
import type { BenchmarkName, CollectiveTiming } from "./plan.js";
import type { BenchRecord, BenchReport } from "./types.js";

/** Width of the size column (OSU: 10). */
const SIZE_W = 10;
/** Width of every numeric column (OSU's FIELD_WIDTH: 18). */
const FIELD_W = 18;

/** Fixed-point with OSU's two decimals; `-` for a missing or non-finite value. */
export function fmt(x: number | undefined, digits = 2): string {
  return x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(digits);
}

interface Column {
  title: string;
  value: (r: BenchRecord) => string;
}

const LAT: Column[] = [
  { title: "Avg Latency(us)", value: (r) => fmt(r.avg_us) },
  { title: "Min Latency(us)", value: (r) => fmt(r.min_us) },
  { title: "Max Latency(us)", value: (r) => fmt(r.max_us) },
  { title: "Iterations", value: (r) => String(r.iterations) },
];

const RAW_LAT: Column[] = [
  { title: "raw zmq Avg(us)", value: (r) => fmt(r.raw?.avg_us) },
  { title: "zmpi/raw time", value: (r) => fmt(r.ratio) },
];

const BW: Column[] = [
  { title: "Bandwidth (MB/s)", value: (r) => fmt(r.mbps) },
  { title: "Window", value: (r) => String(r.window ?? "-") },
  { title: "Iterations", value: (r) => String(r.iterations) },
];

const RAW_BW: Column[] = [
  { title: "raw zmq (MB/s)", value: (r) => fmt(r.raw?.mbps) },
  { title: "zmpi/raw time", value: (r) => fmt(r.ratio) },
];

function columnsFor(benchmark: BenchmarkName, raw: boolean): Column[] {
  if (benchmark === "bw") return raw ? [...BW, ...RAW_BW] : BW;
  if (benchmark === "latency") return raw ? [...LAT, ...RAW_LAT] : LAT;
  return LAT;
}

/** OSU prints barrier without a size column; everything else starts with the size. */
function hasSize(benchmark: BenchmarkName): boolean {
  return benchmark !== "barrier";
}

const TITLES: Record<BenchmarkName, string> = {
  latency: "latency (half round trip)",
  bw: "bandwidth (window of isends + ack; 1 MB = 10^6 B)",
  allreduce: "allreduce (Float64Array, Op.SUM)",
  bcast: "bcast (Float64Array, root 0)",
  reduce: "reduce (Float64Array, Op.SUM, root 0)",
  allgather: "allgather (Float64Array)",
  alltoall: "alltoall (Float64Array per destination)",
  barrier: "barrier",
};

/**
 * The `#` title and column header of a benchmark's table. `raw` says whether the bare zeromq.js
 * columns are there (a string names their transport); `algorithm` (the forced `ZMPI_ALGORITHM`)
 * is shown on collectives, the only benchmarks it affects.
 */
export function tableHeader(
  benchmark: BenchmarkName,
  np: number,
  raw: boolean | "ipc" | "tcp",
  algorithm?: string,
  singleCopy?: boolean,
  timing: CollectiveTiming = "osu",
): string {
  const cols = columnsFor(benchmark, raw !== false);
  const head = (hasSize(benchmark) ? "# Size".padEnd(SIZE_W) : "#") + cols.map((c) => c.title.padStart(FIELD_W)).join("");
  const forced = algorithm && benchmark !== "latency" && benchmark !== "bw" ? `, ZMPI_ALGORITHM=${algorithm}` : "";
  const lines = [`# zmpi OSU-style ${TITLES[benchmark]}, np=${np}${forced}`];
  if (benchmark === "latency" || benchmark === "bw") {
    const over = typeof raw === "string" ? ` over ${raw}` : "";
    if (raw) lines.push(`# raw zmq = bare zeromq.js PUSH/PULL${over} between the same two processes; zmpi/raw time > 1 means zmpi is slower`);
    if (singleCopy !== undefined) {
      lines.push(
        `# zmpi receives into a buffer allocated once, as OSU does; arrays >= 64 KiB ${singleCopy ? "are copied once out of the sender (same machine, cross-memory attach; ZMPI_CMA=0 turns it off)" : "go as bytes (no single copy between these ranks: another node, or ZMPI_CMA=0), read into the receive buffer as they arrive"}`,
      );
    }
  } else if (timing === "batch") {
    lines.push("# calls back to back in timed batches, a barrier before each (as the anchors); a batch lasts as long as its slowest rank");
    lines.push("# Avg = all batches' time / calls, Min/Max = fastest / slowest batch per call (--timing osu: a barrier before every call)");
  } else if (benchmark !== "barrier") {
    lines.push("# Avg/Min/Max = mean over ranks / fastest rank / slowest rank of each rank's mean time per call");
  }
  lines.push(head);
  return lines.join("\n");
}

/** One table row in OSU's fixed-width layout. */
export function tableRow(r: BenchRecord, raw: boolean): string {
  const cols = columnsFor(r.benchmark, raw);
  const first = hasSize(r.benchmark) ? String(r.size).padEnd(SIZE_W) : " ";
  return first + cols.map((c) => c.value(r).padStart(FIELD_W)).join("");
}

/** A whole table (header + rows), e.g. for re-printing a saved run. */
export function formatTable(benchmark: BenchmarkName, np: number, rows: BenchRecord[]): string {
  const raw = rows.some((r) => r.raw !== undefined);
  return [tableHeader(benchmark, np, raw), ...rows.map((r) => tableRow(r, raw))].join("\n");
}

/** The line printed for a benchmark this build cannot run. */
export function skipLine(benchmark: BenchmarkName, reason: string): string {
  return `# ${benchmark}: skipped (${reason})`;
}

/** CSV columns, in order. */
export const CSV_COLUMNS = ["benchmark", "np", "size", "avg_us", "min_us", "max_us", "iterations", "mbps", "raw_avg_us", "raw_mbps", "ratio"] as const;

function csvNum(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return "";
  // Enough digits for sub-microsecond differences without float noise like 0.30000000000000004.
  return String(Number(x.toPrecision(6)));
}

/** One CSV row per (benchmark, size); empty cells where a value does not apply. */
export function toCsv(records: readonly BenchRecord[]): string {
  const lines: string[] = [CSV_COLUMNS.join(",")];
  for (const r of records) {
    lines.push(
      [
        r.benchmark,
        String(r.np),
        String(r.size),
        csvNum(r.avg_us),
        csvNum(r.min_us),
        csvNum(r.max_us),
        String(r.iterations),
        csvNum(r.mbps),
        csvNum(r.raw?.avg_us),
        csvNum(r.raw?.mbps),
        csvNum(r.ratio),
      ].join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Parses a CSV written by {@link toCsv} back into plain rows (tests, and re-reading a run). */
export function parseCsv(text: string): Array<Record<string, string>> {
  const [head, ...rows] = text.trim().split("\n");
  const cols = head!.split(",");
  return rows.map((line) => Object.fromEntries(line.split(",").map((v, i) => [cols[i]!, v])));
}

/** The JSON file's text. */
export function toJson(report: BenchReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
