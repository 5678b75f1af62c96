/**
 * What a benchmark run does, decided once by the driver and handed to every rank as JSON: which
 * benchmarks, which sizes, how many iterations. Pure functions, so the choices are unit-tested and
 * every rank executes exactly the same schedule (a rank that guessed differently would hang).
 */

/** Point-to-point benchmarks (ranks 0 and 1; measured against bare zeromq.js as well). */
export const P2P_BENCHMARKS = ["latency", "bw"] as const;
/** Collective benchmarks, in the order they run. */
export const COLLECTIVE_BENCHMARKS = ["allreduce", "bcast", "reduce", "allgather", "alltoall", "barrier"] as const;
/** Every benchmark name, in run order. */
export const ALL_BENCHMARKS = [...P2P_BENCHMARKS, ...COLLECTIVE_BENCHMARKS] as const;
/** A benchmark name. */
export type BenchmarkName = (typeof ALL_BENCHMARKS)[number];

const KiB = 1024;
const MiB = 1024 * KiB;

/** Smallest default size (OSU starts at 1 B; 8 B is one float64, the smallest a reduction can use). */
export const DEFAULT_MIN_SIZE = 8;
/** Default largest point-to-point size: 16 MiB keeps the default run short (64 MiB ping-pongs add little). */
export const DEFAULT_MAX_SIZE_P2P = 16 * MiB;
/** Default largest collective size: 64 MiB, the biggest allreduce in the anchors. */
export const DEFAULT_MAX_SIZE_COLLECTIVE = 64 * MiB;
/** OSU's bandwidth window: messages in flight before the receiver acknowledges. */
export const BW_WINDOW = 64;
/**
 * Bytes in flight per bandwidth window are capped here: 64 x 16 MiB would make the receiver hold
 * 1 GiB of fresh buffers at once. The anchors' bw uses a window of 4 at 16 MiB, which this matches.
 */
export const BW_WINDOW_BYTES = 64 * MiB;
/** Smallest window once the cap applies. */
export const BW_MIN_WINDOW = 4;
/** Timed iterations are split into this many batches; min and max are over batches (OSU-style). */
export const DEFAULT_BATCHES = 20;

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: KiB,
  kb: KiB,
  kib: KiB,
  m: MiB,
  mb: MiB,
  mib: MiB,
  g: 1024 * MiB,
  gb: 1024 * MiB,
  gib: 1024 * MiB,
};

/**
 * Parses one size: `8`, `8B`, `1K`, `64KiB`, `1M`, `16MiB`, `1G`. Suffixes are binary (K = 1024,
 * as OSU's size columns are), case-insensitive.
 */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`"${text}" is not a size (examples: 8, 1K, 64KiB, 1M, 16MiB)`);
  const bytes = Number(m[1]) * unit;
  if (!Number.isInteger(bytes) || bytes < 0) throw new Error(`"${text}" is not a whole number of bytes`);
  return bytes;
}

/** Parses a comma-separated size list (`8,1K,1M,64M`), sorted ascending, duplicates removed. */
export function parseSizeList(text: string): number[] {
  const parts = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (parts.length === 0) throw new Error(`"${text}" lists no sizes`);
  return [...new Set(parts.map(parseSize))].sort((a, b) => a - b);
}

/** Powers of two from `min` to `max` inclusive, like OSU's default sweep (min rounded up to a power of two). */
export function powersOfTwo(min: number, max: number): number[] {
  if (min > max) throw new Error(`min size ${min} is larger than max size ${max}`);
  const out: number[] = [];
  let s = 1;
  while (s < Math.max(min, 1)) s *= 2;
  for (; s <= max; s *= 2) out.push(s);
  return out;
}

/** Human-readable size: 8 B, 64 KiB, 16 MiB. */
export function formatSize(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `${bytes} B`;
}

/** Parses `latency,bw,allreduce` (or `all`, `p2p`, `collectives`). */
export function parseBenchmarks(text: string): BenchmarkName[] {
  const out = new Set<BenchmarkName>();
  for (const raw of text
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "")) {
    if (raw === "all") ALL_BENCHMARKS.forEach((b) => out.add(b));
    else if (raw === "p2p") P2P_BENCHMARKS.forEach((b) => out.add(b));
    else if (raw === "collectives") COLLECTIVE_BENCHMARKS.forEach((b) => out.add(b));
    else if (raw === "bandwidth") out.add("bw");
    else if ((ALL_BENCHMARKS as readonly string[]).includes(raw)) out.add(raw as BenchmarkName);
    else throw new Error(`unknown benchmark "${raw}"; known: ${ALL_BENCHMARKS.join(", ")} (or all, p2p, collectives)`);
  }
  if (out.size === 0) throw new Error("no benchmarks selected");
  // Run order is fixed (p2p first, barrier last) whatever order the user typed.
  return ALL_BENCHMARKS.filter((b) => out.has(b));
}

/** Default timed iterations for a latency-style benchmark, scaled down with size like OSU. */
export function defaultIterations(benchmark: BenchmarkName, size: number): number {
  if (benchmark === "bw") return size < 64 * KiB ? 100 : size < MiB ? 50 : 20;
  if (benchmark === "barrier") return 1000;
  return size < MiB ? 1000 : size < 16 * MiB ? 100 : 20;
}

/**
 * Below 1 MiB every size gets at least this many warm-up iterations (bw: windows excepted). Each
 * size range takes a path of its own (inline in the ring, single copy with an eager copy, single
 * copy with a receipt...), and V8 optimizes a path only after a few thousand messages through it:
 * one node, 64 KiB ping-pong, the first 2000 round trips take 200–280 µs a hop, 24–40 µs from
 * ~8000 on. With OSU's tenth (100) the 8 KiB and 64 KiB rows read 91 and 184 µs (median); with
 * 1000 the first size of the single-copy path, 8 KiB, still read 50–54 µs against 23–27 µs for
 * 16 KiB; with 3000, 50–52 against 16–18 (two runs each): the first size of a path needs ~5000
 * (a loop, 8 KiB: round trips 1000–2000 p50 45 µs, 3000–6000 p50 20 µs); with `-x 6000` the rows
 * from 8 B to 64 MiB rise with the size — the one-node "cliff" was the warm-up. 3000 keeps a
 * sweep short; pass `-x` for more.
 */
export const MIN_WARMUP_BELOW_1MIB = 3000;

/** Default warm-up iterations (untimed): a tenth of the timed ones, at least 2 (and see {@link MIN_WARMUP_BELOW_1MIB}). */
export function defaultWarmup(benchmark: BenchmarkName, size: number): number {
  const tenth = Math.max(2, Math.round(defaultIterations(benchmark, size) / 10));
  return benchmark !== "bw" && size < MiB ? Math.max(tenth, MIN_WARMUP_BELOW_1MIB) : tenth;
}

/** The bandwidth window for a message size: {@link BW_WINDOW}, capped to {@link BW_WINDOW_BYTES} in flight. */
export function bwWindow(size: number): number {
  if (size <= 0) return BW_WINDOW;
  return Math.max(BW_MIN_WINDOW, Math.min(BW_WINDOW, Math.floor(BW_WINDOW_BYTES / size)));
}

/** One measured point of a benchmark. */
export interface PlanStep {
  /** Message size in bytes (per rank for collectives; 0 for barrier). */
  size: number;
  /** Timed iterations (for bw: windows). */
  iterations: number;
  /** Untimed warm-up iterations. */
  warmup: number;
  /** Messages per window (bw only). */
  window?: number;
}

/** How collectives are timed: `batch` (calls back to back in timed batches, as the anchors) or `osu` (a barrier before every call). */
export type CollectiveTiming = "batch" | "osu";

/** The benchmarks and their steps. */
export interface BenchPlan {
  benchmarks: Array<{ name: BenchmarkName; steps: PlanStep[] }>;
  /** Also measure latency and bw over bare zeromq.js sockets. */
  raw: boolean;
  /** Transport of the bare zeromq.js pair: ipc matches what zmpi uses between ranks on one host. */
  rawTransport: "ipc" | "tcp";
  /** Batches per step for min/max. */
  batches: number;
  /** Untimed small-message traffic before the first benchmark, in ms (see osu.ts `jitWarmup`). */
  jitWarmupMs: number;
  /** How collectives are timed (see {@link CollectiveTiming}). */
  timing: CollectiveTiming;
}

/** What the user asked for (all optional: defaults fill in). */
export interface PlanOptions {
  benchmarks?: BenchmarkName[];
  /** Explicit sizes; overrides min/max. */
  sizes?: number[];
  minSize?: number;
  maxSize?: number;
  /** Fixed timed iterations for every size (default: scaled with size). */
  iterations?: number;
  /** Fixed warm-up iterations for every size. */
  warmup?: number;
  raw?: boolean;
  rawTransport?: "ipc" | "tcp";
  batches?: number;
  /** Seconds of untimed small-message traffic before the first benchmark (default {@link DEFAULT_JIT_WARMUP_S}). */
  jitWarmup?: number;
  /** How collectives are timed (default `batch`). */
  timing?: CollectiveTiming;
}

/**
 * V8 compiles zmpi's message path with its optimizing tier only after a few thousand messages
 * (8 B half round trip here: ~150 µs for the first 1500 round trips, 35-40 µs from ~3000 on), far
 * more than OSU's per-size warm-up; two seconds of traffic first measures the steady state.
 */
export const DEFAULT_JIT_WARMUP_S = 2;

/** Default benchmark selection: point-to-point, every collective, barrier. */
export const DEFAULT_BENCHMARKS: BenchmarkName[] = [...ALL_BENCHMARKS];

/** Builds the schedule every rank will follow. */
export function makePlan(o: PlanOptions = {}): BenchPlan {
  const names = o.benchmarks ?? DEFAULT_BENCHMARKS;
  const benchmarks = names.map((name) => {
    let sizes: number[];
    if (name === "barrier") sizes = [0];
    else if (o.sizes) sizes = o.sizes;
    else {
      const isP2p = (P2P_BENCHMARKS as readonly string[]).includes(name);
      sizes = powersOfTwo(o.minSize ?? DEFAULT_MIN_SIZE, o.maxSize ?? (isP2p ? DEFAULT_MAX_SIZE_P2P : DEFAULT_MAX_SIZE_COLLECTIVE));
    }
    // Reductions and the other collectives work on Float64Array(size / 8): below 8 B there is no element.
    if ((COLLECTIVE_BENCHMARKS as readonly string[]).includes(name) && name !== "barrier") sizes = sizes.filter((s) => s >= 8);
    const steps = sizes.map((size): PlanStep => {
      const step: PlanStep = {
        size,
        iterations: o.iterations ?? defaultIterations(name, size),
        warmup: o.warmup ?? defaultWarmup(name, size),
      };
      if (name === "bw") step.window = bwWindow(size);
      return step;
    });
    return { name, steps };
  });
  return {
    benchmarks,
    raw: o.raw ?? true,
    rawTransport: o.rawTransport ?? "ipc",
    batches: o.batches ?? DEFAULT_BATCHES,
    jitWarmupMs: Math.round((o.jitWarmup ?? DEFAULT_JIT_WARMUP_S) * 1000),
    timing: o.timing ?? "batch",
  };
}

/** Splits `n` iterations into at most `batches` nearly equal batches (never an empty one). */
export function splitBatches(n: number, batches: number): number[] {
  const b = Math.max(1, Math.min(batches, n));
  const base = Math.floor(n / b);
  const extra = n % b;
  return Array.from({ length: b }, (_, i) => base + (i < extra ? 1 : 0)).filter((x) => x > 0);
}
