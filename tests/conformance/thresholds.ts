/**
 * Every algorithm threshold of src/collectives/select.ts, read from the code, and the sizes on each
 * side of each one. This is the only module of the suite that knows the thresholds, so a changed
 * value moves the tested sizes with it, and a new threshold is tested as soon as it is exported.
 *
 * CONTRACTS C1: select.ts exports `THRESHOLDS` (collective, name, bytes) listing every byte
 * threshold. Where that list is missing (branches older than C1) the named constants are read
 * instead. Either way, every exported `*_BYTES` number is taken, so a constant left out of
 * `THRESHOLDS` is still tested (and `unlisted` names it, for a test that fails on it).
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

/** Collective of each named constant when `THRESHOLDS` is absent (by the name's prefix otherwise). */
const COLLECTIVE_OF: Record<string, string> = {
  ALLREDUCE_RING_MIN_BYTES: "allreduce",
  ALLREDUCE_RING_MIN_BYTES_MANY: "allreduce",
  BCAST_SCATTER_MIN_BYTES: "bcast",
  REDUCE_SCATTER_GATHER_MIN_BYTES: "reduce",
  ALLGATHER_RING_MIN_BYTES: "allgather",
  ALLTOALL_PAIRWISE_MIN_BYTES: "alltoall",
  RING_SEGMENT_BYTES: "allreduce",
};

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

function collectiveOf(name: string): string {
  return COLLECTIVE_OF[name] ?? PREFIXES.find(([p]) => name.startsWith(p))?.[1] ?? "allreduce";
}

const mod = select as unknown as Record<string, unknown>;

interface Listed {
  collective: string;
  name: string;
  bytes: number;
}

function listed(): Listed[] | null {
  const t = mod.THRESHOLDS;
  if (!Array.isArray(t)) return null;
  return t.map((x: unknown, i) => {
    const o = x as Partial<Listed>;
    if (typeof o?.name !== "string" || typeof o.bytes !== "number" || !(o.bytes > 0) || typeof o.collective !== "string") {
      throw new Error(`select.ts THRESHOLDS[${i}] is not { collective, name, bytes }: ${JSON.stringify(x)}`);
    }
    return { collective: o.collective, name: o.name, bytes: o.bytes };
  });
}

/** The named `*_BYTES` number exports of select.ts. */
function namedConstants(): Listed[] {
  return Object.entries(mod)
    .filter(([k, v]) => /_BYTES(_[A-Z]+)*$/.test(k) && typeof v === "number" && v > 0)
    .map(([name, v]) => ({ collective: collectiveOf(name), name, bytes: v as number }));
}

/** Whether select.ts has C1's `THRESHOLDS` list. */
export const hasThresholdList: boolean = Array.isArray(mod.THRESHOLDS);

/** Named `*_BYTES` exports of select.ts missing from its `THRESHOLDS` list (empty without the list). */
export const unlisted: string[] = (() => {
  const l = listed();
  if (!l) return [];
  const names = new Set(l.map((t) => t.name));
  return namedConstants()
    .filter((t) => !names.has(t.name))
    .map((t) => t.name);
})();

/** Every threshold, deduplicated by name (the `THRESHOLDS` entry wins). */
export const THRESHOLDS: readonly Threshold[] = (() => {
  const byName = new Map<string, Listed>();
  for (const t of namedConstants()) byName.set(t.name, t);
  for (const t of listed() ?? []) byName.set(t.name, t);
  return [...byName.values()].map((t) => ({ ...t, measure: MEASURES[t.name] ?? "input" }));
})();

/** `BCAST_SCATTER_MIN_RANKS`: the bcast algorithm also depends on the size (a rank threshold). */
export const BCAST_MIN_RANKS: number = typeof mod.BCAST_SCATTER_MIN_RANKS === "number" ? (mod.BCAST_SCATTER_MIN_RANKS as number) : 4;

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
