/**
 * Bcast: the root's value on every rank. A binomial tree for plain values and short arrays (the
 * root encodes once, inner nodes forward the bytes without decoding); scatter + ring allgather for
 * long typed arrays on 4 or more ranks (MPICH's long-message bcast).
 */
import type { Incoming } from "../comm/matching.js";
import { decodeData, encodeData } from "../comm/payload.js";
import { UsageError } from "../errors.js";
import { isTypedArray } from "../transport/dtype.js";
import { describe, encodeCheck, type OutOptions } from "./args.js";
import { balancedCounts, offsetsOf } from "./blocks.js";
import { bcastScatterAllgather } from "./ring.js";
import { BCAST_SCATTER_MIN_BYTES, BCAST_SCATTER_MIN_RANKS, forced } from "./select.js";
import type { CollectiveSequence } from "./sequence.js";
import { bcastBinomial } from "./tree.js";

/** The bcast algorithms. */
export type BcastAlgorithm = "binomial" | "scatter-allgather";

/** What the bcast choice depends on. */
export interface BcastFacts {
  /** Ranks in the communicator. */
  size: number;
  /** Bytes of the typed array being broadcast, or null for a plain value. */
  bytes: number | null;
}

/** The bcast algorithm for these facts. */
export function chooseBcast(f: BcastFacts): BcastAlgorithm {
  return f.bytes !== null && f.bytes >= BCAST_SCATTER_MIN_BYTES && f.size >= BCAST_SCATTER_MIN_RANKS ? "scatter-allgather" : "binomial";
}

/** Bcast of the root's `data` (root checked by the caller). */
export function runBcast<T>(calls: CollectiveSequence, data: T | undefined, root: number, opts: OutOptions | undefined): Promise<T> {
  const isRoot = calls.rank === root;
  if (isRoot) encodeCheck(data);
  const buffer = isTypedArray(data) ? data : opts?.out;
  const alg = (forced("bcast", opts?.algorithm) as BcastAlgorithm | null) ?? chooseBcast({ size: calls.size, bytes: buffer ? buffer.byteLength : null });
  if (alg === "scatter-allgather" && buffer === undefined) {
    throw new UsageError("the scatter-allgather bcast needs a typed array on every rank (the root's data, a receive buffer elsewhere)", { comm: calls.name, op: "bcast" });
  }
  const sig = alg === "binomial" ? `root ${root}, binomial` : `${describe(buffer)}, root ${root}, ${alg}`;
  const c = calls.begin("bcast", sig, opts);
  const work = async (): Promise<T> => {
    if (alg === "scatter-allgather") {
      const buf = buffer!;
      const counts = balancedCounts(buf.length, calls.size);
      await bcastScatterAllgather(c, root, buf, counts, offsetsOf(counts));
      return buf as T;
    }
    // A large root array goes zero-copy (same-machine children copy it straight out of the root);
    // the root's call has not returned, so its array cannot change meanwhile.
    const enc = isRoot ? encodeData(data, calls.eagerLimit) : null;
    const out = isRoot ? undefined : isTypedArray(data) ? data : opts?.out;
    const got = calls.size === 1 ? enc! : await bcastBinomial(c, root, enc, out);
    if (isRoot) return data as T;
    if (out && got.bytes !== null && got.bytes.buffer === out.buffer && got.bytes.byteOffset === out.byteOffset) {
      return (out.length === got.count ? out : out.subarray(0, got.count)) as T;
    }
    const m: Incoming = { source: root, tag: 0, dtype: got.dtype, count: got.count, payload: got.bytes as Buffer | null };
    return decodeData(m, out) as T;
  };
  return calls.run(work());
}
