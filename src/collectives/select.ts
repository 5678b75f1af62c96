/**
 * Algorithm choice, in one place. Thresholds follow MPICH's shape and were set from `npm run bench`
 * on the 2-core VM this project runs on; each can be forced per call (`{ algorithm }`) or per job
 * (`ZMPI_ALG_<COLLECTIVE>=name`, e.g. `ZMPI_ALG_ALLREDUCE=ring`, or `ZMPI_ALGORITHM`), so tests cover every algorithm.
 * Forcing must be the same on every rank: it is part of the call's signature.
 */
import { UsageError } from "../errors.js";

/**
 * Allreduce above this many bytes uses the ring; at or below, recursive doubling. Measured with
 * `ZMPI_ALG_ALLREDUCE=<alg> npm run bench -- -n <p> --benchmarks allreduce` on the 2-core VM:
 * np=2 crosses between 8 and 32 KiB (8 KiB: 248 vs 335 µs; 32 KiB: 479 vs 283 µs). With 3 or 4
 * ranks on 2 cores, since same-machine arrays are copied once out of the sender, the ring wins
 * from 512 KiB (np=4, recursive doubling vs ring: 512 KiB 9.8 vs 5.4 ms, 2 MiB 25 vs 7.3 ms,
 * 8 MiB 72 vs 19 ms; np=3, 512 KiB 5.5 vs 1.7 ms; 256 KiB is a toss-up). Over ZeroMQ only it
 * was 16 MiB.
 */
export const ALLREDUCE_RING_MIN_BYTES = 32 * 1024;
/** With more than two ranks the ring starts here (see above). */
export const ALLREDUCE_RING_MIN_BYTES_MANY = 512 * 1024;
/** Bcast of typed arrays of at least this many bytes, on at least this many ranks, uses scatter + ring allgather. */
export const BCAST_SCATTER_MIN_BYTES = 512 * 1024;
export const BCAST_SCATTER_MIN_RANKS = 4;
/** Reduce of at least this many bytes (commutative op) uses ring reduce-scatter + gather. */
export const REDUCE_SCATTER_GATHER_MIN_BYTES = 512 * 1024;
/** Allgather of at least this many bytes in total uses the ring; below, recursive doubling or Bruck. */
export const ALLGATHER_RING_MIN_BYTES = 256 * 1024;
/** Alltoall blocks of at least this many bytes go pairwise, one peer at a time; below, all at once. */
export const ALLTOALL_PAIRWISE_MIN_BYTES = 64 * 1024;
/** Ring steps move their block in segments of this many bytes, so reduction overlaps transfer. */
export const RING_SEGMENT_BYTES = 1024 * 1024;

/** The algorithms each collective knows. */
export const ALGORITHMS = {
  barrier: ["dissemination", "hierarchical"],
  bcast: ["binomial", "scatter-allgather", "hierarchical"],
  reduce: ["binomial", "reduce-scatter-gather"],
  allreduce: ["recursive-doubling", "ring", "hierarchical"],
  allgather: ["ring", "recursive-doubling", "bruck"],
  alltoall: ["linear", "pairwise"],
  reduceScatter: ["ring", "reduce-scatterv"],
  gather: ["linear"],
  scatter: ["linear"],
  scan: ["recursive-doubling"],
} as const;

/** A collective that has a choice of algorithm. */
export type CollectiveName = keyof typeof ALGORITHMS;

/** One byte threshold of an automatic algorithm choice. */
export interface Threshold {
  /** The collective whose choice it steers. */
  collective: CollectiveName;
  /** The exported constant's name. */
  name: string;
  /** Its value in bytes. */
  bytes: number;
  /** What is measured against it, and what changes there. */
  measure: string;
}

/**
 * Every byte threshold of the automatic choices, for tests that must cover both sides of each
 * (conformance tests read their sizes from here, so moving a threshold cannot leave a side untested).
 */
export const THRESHOLDS: readonly Threshold[] = [
  {
    collective: "allreduce",
    name: "ALLREDUCE_RING_MIN_BYTES",
    bytes: ALLREDUCE_RING_MIN_BYTES,
    measure: "typed array bytes, 2 ranks, commutative op: ring above, recursive doubling at or below",
  },
  {
    collective: "allreduce",
    name: "ALLREDUCE_RING_MIN_BYTES_MANY",
    bytes: ALLREDUCE_RING_MIN_BYTES_MANY,
    measure:
      "typed array bytes, 3+ ranks, commutative op: ring above, recursive doubling at or below; across nodes (hierarchical) the segments shape above on a uniform layout, the leaders shape at or below",
  },
  {
    collective: "allreduce",
    name: "RING_SEGMENT_BYTES",
    bytes: RING_SEGMENT_BYTES,
    measure: "bytes of one ring block: longer blocks move in segments of this size (ring allreduce, reduce-scatter, allgather, bcast)",
  },
  {
    collective: "bcast",
    name: "BCAST_SCATTER_MIN_BYTES",
    bytes: BCAST_SCATTER_MIN_BYTES,
    measure: `typed array bytes on ${BCAST_SCATTER_MIN_RANKS}+ ranks: scatter-allgather from here, binomial below`,
  },
  {
    collective: "reduce",
    name: "REDUCE_SCATTER_GATHER_MIN_BYTES",
    bytes: REDUCE_SCATTER_GATHER_MIN_BYTES,
    measure: "typed array bytes, commutative op: reduce-scatter-gather from here, binomial below",
  },
  {
    collective: "allgather",
    name: "ALLGATHER_RING_MIN_BYTES",
    bytes: ALLGATHER_RING_MIN_BYTES,
    measure: "bytes of the whole result: ring from here, recursive doubling or bruck below",
  },
  { collective: "alltoall", name: "ALLTOALL_PAIRWISE_MIN_BYTES", bytes: ALLTOALL_PAIRWISE_MIN_BYTES, measure: "bytes of the largest block: pairwise from here, linear below" },
];

/**
 * `ZMPI_ALGORITHM` as a whole: `"ring"` forces ring wherever a collective has one;
 * `"allreduce=ring,bcast=binomial"` names them one by one.
 */
function fromGlobal(name: CollectiveName, v: string | undefined): string | undefined {
  if (!v) return undefined;
  for (const part of v.split(",")) {
    const [k, alg] = part.includes("=") ? part.split("=") : [undefined, part];
    if (k === undefined && (ALGORITHMS[name] as readonly string[]).includes(alg!.trim())) return alg!.trim();
    if (k?.trim() === name) return alg!.trim();
  }
  return undefined;
}

function fromEnv(name: CollectiveName, env: Readonly<Record<string, string | undefined>>): string | undefined {
  return env[`ZMPI_ALG_${name.toUpperCase()}`] ?? fromGlobal(name, env.ZMPI_ALGORITHM);
}

/**
 * The job's environment is read once per collective name: reading process.env costs ~10 µs a
 * time here (each read goes to the C environment), and a collective call must not pay it.
 */
const processEnvChoice = new Map<CollectiveName, string | undefined>();
function fromProcessEnv(name: CollectiveName): string | undefined {
  if (!processEnvChoice.has(name)) processEnvChoice.set(name, fromEnv(name, process.env));
  return processEnvChoice.get(name);
}

/**
 * The forced algorithm for a collective: per call, else `ZMPI_ALG_<NAME>`, else `ZMPI_ALGORITHM`,
 * else null (automatic choice).
 */
export function forced(name: CollectiveName, perCall: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env): string | null {
  const v = perCall ?? (env === process.env ? fromProcessEnv(name) : fromEnv(name, env));
  if (v === undefined || v === "" || v === "auto") return null;
  const known = ALGORITHMS[name] as readonly string[];
  if (!known.includes(v)) throw new UsageError(`unknown ${name} algorithm "${v}": choose one of ${known.join(", ")} (or auto)`);
  return v;
}
