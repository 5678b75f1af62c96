/**
 * How N items split over P parts: contiguous blocks, the first `N mod P` one longer (Slurm's and
 * MPI's block distribution). Every rank computes the same split from (N, P) alone.
 */
import { UsageError } from "../errors.js";

/** Sizes of the P blocks of N items. */
export function shardCounts(n: number, parts: number): number[] {
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`the item count must be a non-negative integer, got ${n}`, { op: "shards" });
  if (!Number.isSafeInteger(parts) || parts < 1) throw new UsageError(`the part count must be a positive integer, got ${parts}`, { op: "shards" });
  const base = Math.floor(n / parts);
  const extra = n % parts;
  return Array.from({ length: parts }, (_, i) => base + (i < extra ? 1 : 0));
}

/** First item of each block (length P + 1: the last entry is N). */
export function shardOffsets(counts: readonly number[]): number[] {
  const offs = [0];
  for (const c of counts) offs.push(offs[offs.length - 1]! + c);
  return offs;
}

/** Block `part` of N items over P parts: `{ start, count }`. */
export function shardOf(n: number, parts: number, part: number): { start: number; count: number } {
  const counts = shardCounts(n, parts);
  if (!Number.isInteger(part) || part < 0 || part >= parts) throw new UsageError(`part ${part} is outside 0..${parts - 1}`, { op: "shards" });
  return { start: shardOffsets(counts)[part]!, count: counts[part]! };
}
