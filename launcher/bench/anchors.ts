/**
 * `--compare-anchors`: puts zmpi's numbers next to the anchor measurements of Open MPI (TCP over
 * loopback), mpi4py (TCP over loopback) and torch gloo taken on this kind of machine
 * (`../shared/anchors/results.json` from the repo root; see results.md there for how they were
 * measured). The anchors report medians over batches, so zmpi's median is used here too.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { formatSize } from "./plan.js";
import { fmt } from "./report.js";
import { median } from "./stats.js";
import type { AnchorRow, BenchRecord } from "./types.js";

/** One row of results.json's `results` array (only the fields used here). */
export interface AnchorResult {
  impl: string;
  bench: string;
  np?: number;
  bytes?: number;
  config: string;
  run: number;
  median_us?: number;
  median_MBps?: number;
}

/** The comparison stacks: label and results.json config for a rank count. */
export const ANCHOR_STACKS: Array<{ label: string; config: (np: number) => string }> = [
  { label: "Open MPI TCP lo", config: (np) => `c-tcp-np${np}` },
  { label: "mpi4py TCP lo", config: (np) => `mpi4py-tcp-np${np}` },
  { label: "torch gloo", config: (np) => `gloo-np${np}` },
];

/** The measurements compared: which zmpi record, which anchor bench, and whether it is a rate. */
export const ANCHOR_POINTS: Array<{ label: string; benchmark: BenchRecord["benchmark"]; anchorBench: string; bytes: number; rate?: boolean }> = [
  { label: "ping-pong 8 B, us", benchmark: "latency", anchorBench: "pingpong", bytes: 8 },
  { label: "ping-pong 1 MiB, us", benchmark: "latency", anchorBench: "pingpong", bytes: 1 << 20 },
  { label: "bw 16 MiB, MB/s", benchmark: "bw", anchorBench: "bw", bytes: 16 << 20, rate: true },
  ...[1, 1024, 65536, 1 << 20, 8 << 20].map((count) => ({
    label: `allreduce ${count >= 1 << 20 ? `${count >> 20}M` : count >= 1024 ? `${count >> 10}K` : count} f64 (${formatSize(count * 8)}), us`,
    benchmark: "allreduce" as const,
    anchorBench: "allreduce",
    bytes: count * 8,
  })),
  { label: "bcast 1M f64 (8 MiB), us", benchmark: "bcast", anchorBench: "bcast", bytes: 8 << 20 },
  { label: "barrier, us", benchmark: "barrier", anchorBench: "barrier", bytes: 0 },
];

/** The zmpi package root: the nearest folder upward holding zmpi's package.json (works from src and dist). */
export function repoRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const pj = join(dir, "package.json");
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, "utf8")) as { name?: string }).name === "zmpi") return dir;
      } catch {
        // not a readable package.json: keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) return resolve(from, "..", "..");
    dir = up;
  }
}

/** Default anchors file: `../shared/anchors/results.json` next to the repo. */
export function defaultAnchorsPath(): string {
  return resolve(repoRoot(), "..", "shared", "anchors", "results.json");
}

/** Reads results.json's rows, or null if the file is not there. */
export function loadAnchors(path: string): AnchorResult[] | null {
  if (!existsSync(path)) return null;
  const doc = JSON.parse(readFileSync(path, "utf8")) as { results?: AnchorResult[] };
  return doc.results ?? [];
}

/** Builds the comparison rows for a rank count. */
export function compareAnchors(
  records: readonly BenchRecord[],
  anchors: readonly AnchorResult[],
  np: number,
  stacks: ReadonlyArray<{ label: string; config: (np: number) => string }> = ANCHOR_STACKS,
): AnchorRow[] {
  return ANCHOR_POINTS.map((p) => {
    const rec = records.find((r) => r.benchmark === p.benchmark && r.size === p.bytes && r.np === np);
    // Medians on both sides; for bw the median batch's time gives the rate.
    const zmpiUs = rec ? rec.median_us : null;
    const zmpi = zmpiUs === null ? null : p.rate ? p.bytes / zmpiUs : zmpiUs;
    const row: AnchorRow = { label: p.label, zmpi, anchors: [] };
    for (const s of stacks) {
      const hits = anchors.filter((a) => a.config === s.config(np) && a.bench === p.anchorBench && (a.bytes ?? 0) === p.bytes);
      const vals = hits.map((a) => (p.rate ? a.median_MBps : a.median_us)).filter((v): v is number => typeof v === "number");
      const value = vals.length ? median(vals) : null;
      // Ratio of times either way: for a rate, time is inversely proportional.
      const ratio = value === null || zmpi === null ? null : p.rate ? value / zmpi : zmpi / value;
      row.anchors.push({ stack: s.label, value, ratio });
    }
    return row;
  });
}

/** The comparison as text. */
export function formatAnchors(rows: readonly AnchorRow[], np: number, path: string): string {
  const L = 34;
  const W = 12;
  const lines = [
    `# zmpi vs anchors, np=${np} (${path})`,
    "# medians over batches on both sides; ratio = zmpi time / anchor time (> 1 means zmpi is slower)",
    "# the anchors ran on a 2-vCPU shared VM too: treat single cells as +-40%",
    `# ${"Measurement".padEnd(L - 2)}${"zmpi".padStart(W)}${rows[0]!.anchors.map((a) => a.stack.padStart(W + 4) + "ratio".padStart(8)).join("")}`,
  ];
  for (const r of rows) {
    const cells = r.anchors.map((a) => fmt(a.value ?? undefined).padStart(W + 4) + (a.ratio === null ? "-" : `${fmt(a.ratio, 1)}x`).padStart(8));
    lines.push(r.label.padEnd(L) + (r.zmpi === null ? "not run" : fmt(r.zmpi)).padStart(W) + cells.join(""));
  }
  return lines.join("\n");
}
