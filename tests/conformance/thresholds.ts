/**
 * Every algorithm threshold of src/collectives/select.ts, read from the code, and the sizes on each
 * side of each one. This is the only module of the suite that knows the thresholds, so a changed
 * value moves the tested sizes with it, and a new threshold is tested as soon as it is listed.
 *
 * CONTRACTS C1: select.ts exports `THRESHOLDS` (collective, name, bytes) listing every byte
 * threshold. Every exported `*_BYTES` number is taken too, so a constant left out of `THRESHOLDS`
 * is still tested (and `unlisted` names it, for a test that fails on it).
 */
import * as select from "../../src/collectives/select.js";

/** One byte threshold and the collectives whose sizes it decides. */
export interface Threshold {
  /** The collective `THRESHOLDS` files it under (or the name's prefix). */
  collective: string;
  name: string;
  bytes: number;
  /** What the bytes are compared with; see {@link Measure}. */
  measure: Measure;
}

/**
 * What a threshold's bytes are compared with:
 * - `input`: the byte length of the array each rank passes (allreduce, bcast, reduce);
 * - `gathered`: the byte length of the whole result of a gather (each rank's bytes × size);
 * - `block`: one rank's block of an alltoall (the array's bytes ÷ size);
 * - `ring`: one rank's block of a ring (the array's bytes ÷ size for reductions and bcast, each
 *   rank's own bytes for allgather).
 */
export type Measure = "input" | "gathered" | "block" | "ring";

/** Measures of the thresholds select.ts has today; a threshold not listed here is taken as `input`. */
const MEASURES: Record<string, Measure> = {
  ALLGATHER_RING_MIN_BYTES: "gathered",
  ALLTOALL_PAIRWISE_MIN_BYTES: "block",
  RING_SEGMENT_BYTES: "ring",
};

/** Collective of a named constant missing from `THRESHOLDS`, by the name's prefix. */
const PREFIXES: Array<[string, string]> = [
  ["ALLREDUCE", "allreduce"],
  ["BCAST", "bcast"],
  ["REDUCE_SCATTER_GATHER", "reduce"],
  ["REDUCE_SCATTER", "reduceScatter"],
  ["REDUCE", "reduce"],
  ["ALLGATHER", "allgather"],
  ["ALLTOALL", "alltoall"],
  ["GATHER", "gather"],
  ["SCATTER", "scatter"],
  ["SCAN", "scan"],
  ["BARRIER", "barrier"],
];

interface Listed {
  collective: string;
  name: string;
  bytes: number;
}

/** The named `*_BYTES` number exports of select.ts. */
function namedConstants(): Listed[] {
  return Object.entries(select as unknown as Record<string, unknown>)
    .filter(([k, v]) => /_BYTES(_[A-Z]+)*$/.test(k) && typeof v === "number" && v > 0)
    .map(([name, v]) => ({ collective: PREFIXES.find(([p]) => name.startsWith(p))?.[1] ?? "allreduce", name, bytes: v as number }));
}

/** Named `*_BYTES` exports of select.ts missing from its `THRESHOLDS` list. */
export const unlisted: string[] = (() => {
  const names = new Set(select.THRESHOLDS.map((t) => t.name));
  return namedConstants()
    .filter((t) => !names.has(t.name))
    .map((t) => t.name);
})();

/** Every threshold, deduplicated by name (the `THRESHOLDS` entry wins). */
export const THRESHOLDS: readonly Threshold[] = (() => {
  const byName = new Map<string, Listed>();
  for (const t of namedConstants()) byName.set(t.name, t);
  for (const t of select.THRESHOLDS) byName.set(t.name, t);
  return [...byName.values()].map((t) => ({ ...t, measure: MEASURES[t.name] ?? "input" }));
})();

/** `BCAST_SCATTER_MIN_RANKS`: the bcast algorithm also depends on the size (a rank threshold). */
export const BCAST_MIN_RANKS: number = select.BCAST_SCATTER_MIN_RANKS;

/** Thresholds that decide sizes of `collective` (ring thresholds apply to every ring user). */
export function thresholdsFor(collective: string): Threshold[] {
  const ringUsers = ["allreduce", "reduce", "bcast", "allgather", "reduceScatter"];
  return THRESHOLDS.filter((t) => t.collective === collective || (t.measure === "ring" && ringUsers.includes(collective)));
}

/** One size just below and one just above a threshold, for a given array type and size. */
export interface Side {
  /** `${name}-` or `${name}+`. */
  label: string;
  /** Elements each rank passes (for gathers: each rank's own block). */
  n: number;
}

/**
 * Element counts on each side of `t` for a collective on `p` ranks with `elt`-byte elements.
 * `pairs`: MINLOC/MAXLOC data, so the count is kept even (on the same side).
 * For a ring threshold, `perRank` says each rank's own array is the ring block (allgather).
 */
export function sides(t: Threshold, p: number, elt: number, opts: { pairs?: boolean; perRank?: boolean } = {}): Side[] {
  // Pairs (MINLOC/MAXLOC) are cut whole, so count in pairs and double at the end.
  const unit = opts.pairs ? 2 * elt : elt;
  const below = (bytes: number, u: number) => Math.ceil(bytes / u) - 1;
  const above = (bytes: number, u: number) => Math.floor(bytes / u) + 1;
  let lo: number;
  let hi: number;
  switch (t.measure) {
    case "input":
      lo = below(t.bytes, unit);
      hi = above(t.bytes, unit);
      break;
    case "gathered":
      lo = below(t.bytes, unit * p);
      hi = above(t.bytes, unit * p);
      break;
    case "block":
      lo = below(t.bytes, unit) * p;
      hi = above(t.bytes, unit) * p;
      break;
    case "ring":
      if (opts.perRank) {
        lo = below(t.bytes, unit);
        hi = above(t.bytes, unit);
      } else {
        // Every block of a balanced split below (the largest is ⌈n/p⌉), then every block above.
        lo = below(t.bytes, unit) * p;
        hi = above(t.bytes, unit) * p + (p > 1 ? 1 : 0);
      }
      break;
  }
  const k = opts.pairs ? 2 : 1;
  return [
    { label: `${t.name}-`, n: Math.max(0, lo) * k },
    { label: `${t.name}+`, n: hi * k },
  ];
}
