/** Small statistics over timing samples (pure; used on rank 0 and in tests). */
import type { Timing } from "./types.js";

/** Median of a list (mean of the middle two for even lengths); NaN for an empty list. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Arithmetic mean; NaN for an empty list. */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let sum = 0;
  for (const x of xs) sum += x;
  return sum / xs.length;
}

/**
 * Timing from batches: `batchUs[i]` is the elapsed time of batch i, which ran `counts[i]`
 * iterations, each worth `per` units of the reported quantity (2 for a ping-pong's half round
 * trip, `window` for bw's per-message time). avg is total time over total units, so it is exactly
 * OSU's single-timer figure; min, max and median are over per-batch values.
 */
export function fromBatches(batchUs: readonly number[], counts: readonly number[], per = 1): Timing {
  const perBatch = batchUs.map((t, i) => t / (counts[i]! * per));
  const totalUs = batchUs.reduce((a, b) => a + b, 0);
  const iterations = counts.reduce((a, b) => a + b, 0);
  return {
    avg_us: totalUs / (iterations * per),
    min_us: Math.min(...perBatch),
    max_us: Math.max(...perBatch),
    median_us: median(perBatch),
    iterations,
  };
}

/**
 * OSU collective statistics from every rank's per-call times (`perRank[r][i]`, µs): each rank's
 * mean, then avg / min / max over ranks (osu_allreduce's three columns). The median is over
 * batches of the slowest rank per call, the way the anchors time a collective (batch time = max
 * over ranks).
 */
export function collectiveTiming(perRank: readonly (readonly number[])[], batches: number): Timing {
  const means = perRank.map((xs) => mean(xs));
  const iterations = perRank[0]?.length ?? 0;
  const slowest = Array.from({ length: iterations }, (_, i) => Math.max(...perRank.map((xs) => xs[i]!)));
  const b = Math.max(1, Math.min(batches, iterations));
  const batchMeans: number[] = [];
  for (let k = 0; k < b; k++) {
    const lo = Math.floor((k * iterations) / b);
    const hi = Math.floor(((k + 1) * iterations) / b);
    if (hi > lo) batchMeans.push(mean(slowest.slice(lo, hi)));
  }
  return {
    avg_us: mean(means),
    min_us: Math.min(...means),
    max_us: Math.max(...means),
    median_us: median(batchMeans),
    iterations,
  };
}

/**
 * Statistics of back-to-back batches (the anchors' method): `perRank[r][k]` is rank r's time for
 * batch k of `counts[k]` calls; a batch takes as long as its slowest rank. Avg = all batches' time
 * over all calls; min / max / median over batches, per call.
 */
export function batchTiming(perRank: readonly (readonly number[])[], counts: readonly number[]): Timing {
  const slowest = counts.map((_, k) => Math.max(...perRank.map((xs) => xs[k]!)));
  return fromBatches(slowest, counts);
}

/** MB/s (10^6 B/s) for `bytes` moved in `us` microseconds: bytes per µs is exactly MB/s. */
export function mbps(bytes: number, us: number): number {
  return us > 0 ? bytes / us : NaN;
}
