/**
 * Bcast: the root's value on every rank. A binomial tree for plain values and short arrays (the
 * root encodes once, inner nodes forward the bytes without decoding); scatter + ring allgather for
 * long typed arrays on 4 or more ranks (MPICH's long-message bcast).
 *
 * Only the root knows what it broadcasts (non-roots may pass `undefined`, as mpi4py's `bcast(obj)`
 * allows), so only the root chooses, and its first message — which always travels the binomial
 * tree — says what it chose: the value itself (binomial), or an announcement of the array's dtype
 * and length (scatter-allgather), after which every rank, with or without a buffer of its own,
 * takes part in the scatter and the ring. No rank's choice rests on what another rank passed.
 * Across nodes with several ranks on a node the hierarchical bcast (hierarchical.ts) is chosen
 * from the layout alone, which every rank knows: so non-roots choose it too, without the root's word.
 */
import type { Incoming } from "../comm/matching.js";
import { decodeData, encodeData, type Encoded } from "../comm/payload.js";
import { UsageError } from "../errors.js";
import { DType, dtypeName, dtypeOf, isTypedArray, isTypedCode, type TypedArray } from "../transport/dtype.js";
import { checkOut, encodeCheck, type OutOptions } from "./args.js";
import { balancedCounts, copyOf, like, newOf, offsetsOf, put } from "./blocks.js";
import type { Coll } from "./coll.js";
import { bcastHierarchical } from "./hierarchical.js";
import { multiNode, type LayoutFacts } from "./layout.js";
import { bcastScatterAllgather } from "./ring.js";
import { BCAST_SCATTER_MIN_BYTES, BCAST_SCATTER_MIN_RANKS } from "./select.js";
import type { CollectiveSequence } from "./sequence.js";
import { bcastBinomial } from "./tree.js";
import { fit, into } from "./values.js";

/** The bcast algorithms. */
export type BcastAlgorithm = "binomial" | "scatter-allgather" | "hierarchical";

/** What the bcast choice depends on: the communicator, and what the root's first message tells everyone. */
export interface BcastFacts {
  /** Ranks in the communicator. */
  size: number;
  /** Bytes of the root's typed array, or null when the root broadcasts a plain value. */
  bytes: number | null;
  /** Where the ranks run (default: one node). */
  layout?: LayoutFacts;
}

/**
 * The bcast algorithm for these facts (made on the root, announced to the others). The
 * hierarchical choice must not depend on `bytes`: non-roots make it from the layout alone.
 * Measured (launcher/bench/node-aware.ts, 2 pretend nodes, load 26-77), 8 MiB hierarchical ÷
 * scatter-allgather: 4 ranks wall 0.45 and 0.67, CPU 0.48 and 0.53; 8 ranks wall 0.50, CPU 0.32.
 */
export function chooseBcast(f: BcastFacts): BcastAlgorithm {
  if (f.layout && multiNode(f.layout)) return "hierarchical";
  return f.bytes !== null && f.bytes >= BCAST_SCATTER_MIN_BYTES && f.size >= BCAST_SCATTER_MIN_RANKS ? "scatter-allgather" : "binomial";
}

/**
 * The announcement of a scatter-allgather: a payload-less message (dtype NONE, which no user
 * value encodes to) whose count packs the array's dtype code (< 16) and length.
 */
function announcement(a: TypedArray): Encoded {
  return { dtype: DType.NONE, count: a.length * 16 + dtypeOf(a), bytes: null, zeroCopy: false };
}

function readAnnouncement(count: number): { dtype: number; n: number } {
  return { dtype: count % 16, n: Math.floor(count / 16) };
}

/** Bcast of the root's `data` (root checked by the caller). */
export function runBcast<T>(calls: CollectiveSequence, data: T | undefined, root: number, opts: OutOptions | undefined): Promise<T> {
  const isRoot = calls.rank === root;
  const forcedAlg = calls.forced("bcast", opts?.algorithm) as BcastAlgorithm | null;
  // A non-root's typed `data` is its receive buffer, exactly like `out`.
  const out = isRoot || !isTypedArray(data) ? opts?.out : data;
  if (out !== undefined && !isTypedArray(out)) throw new UsageError(`bcast: out must be a typed array, got ${typeof out}`, { comm: calls.name, op: "bcast" });
  const layout = calls.layout;
  const hierarchical = (forcedAlg ?? chooseBcast({ size: calls.size, bytes: null, layout: layout.facts })) === "hierarchical";
  let alg: BcastAlgorithm = hierarchical ? "hierarchical" : "binomial";
  if (isRoot) {
    encodeCheck(data);
    const typed = isTypedArray(data);
    if (!hierarchical) alg = forcedAlg ?? chooseBcast({ size: calls.size, bytes: typed ? data.byteLength : null, layout: layout.facts });
    // Forced by the environment where it cannot apply: the automatic choice (see allgather.ts).
    if (alg === "scatter-allgather" && !typed && opts?.algorithm === undefined) alg = chooseBcast({ size: calls.size, bytes: null, layout: layout.facts });
    if (alg === "scatter-allgather" && !typed) throw new UsageError("the scatter-allgather bcast needs a typed array on the root", { comm: calls.name, op: "bcast" });
    if (typed) checkOut(calls, out, data, data.length, "bcast");
    else if (out) throw new UsageError("bcast: out is for typed arrays, but the root's data is a plain value", { comm: calls.name, op: "bcast" });
  }
  const c = calls.begin("bcast", forcedAlg ? `root ${root}, ${forcedAlg}` : `root ${root}`, opts, true);
  const receive = hierarchical ? (dest?: TypedArray) => bcastHierarchical(c, layout, root, null, dest) : (dest?: TypedArray) => bcastBinomial(c, root, null, dest);
  const send = hierarchical ? (enc: Encoded) => bcastHierarchical(c, layout, root, enc) : (enc: Encoded) => bcastBinomial(c, c.rank, enc);
  const work = isRoot ? rootPart(c, data, alg, out, send) : otherPart(c, root, out, receive);
  return calls.run(work, c) as Promise<T>;
}

/** The root: sends, and keeps a copy of its value (as mpi4py), or its value in `out`. */
async function rootPart(c: Coll, data: unknown, alg: BcastAlgorithm, out: TypedArray | undefined, send: (enc: Encoded) => Promise<Encoded>): Promise<unknown> {
  const typed = isTypedArray(data);
  if (alg === "scatter-allgather") {
    const src = data as TypedArray;
    const n = src.length;
    const counts = balancedCounts(n, c.size);
    const offs = offsetsOf(counts);
    await bcastBinomial(c, c.rank, announcement(src));
    // The blocks go out of the root's array (unchanged while the call runs); the result is filled by the ring.
    const buf = out ? fit(out, n) : like(src, n);
    put(buf, src.subarray(offs[c.rank]!, offs[c.rank]! + counts[c.rank]!), offs[c.rank]!);
    await bcastScatterAllgather(c, c.rank, buf, counts, offs, src);
    return buf;
  }
  // A large array goes zero-copy (same-machine children copy it straight out of the root); the
  // root's call has not returned, so its array cannot change meanwhile.
  const enc = encodeData(data, c.eagerLimit);
  // The root's own result is made now, before anything else is encoded: what the others decode.
  const mine = typed ? (out ? into(out, data) : copyOf(data)) : decodeData(incoming(c.rank, enc));
  if (c.size > 1) await send(enc);
  return mine;
}

/** A non-root: the root's first message (binomial or hierarchical tree) says whether it is the value or a scatter-allgather. */
async function otherPart(c: Coll, root: number, out: TypedArray | undefined, receive: (dest?: TypedArray) => Promise<Encoded>): Promise<unknown> {
  const got = await receive(out);
  const announced = got.dtype === DType.NONE;
  const { dtype, n } = announced ? readAnnouncement(got.count) : { dtype: got.dtype, n: got.count };
  if (announced && !isTypedCode(dtype)) throw c.mismatch(root, `bcast of an unknown dtype ${dtype}`, c.sig);
  // A receive buffer that cannot hold the root's value is a disagreement between ranks: all fail.
  if (out && (!isTypedCode(dtype) || !sameDtype(dtypeOf(out), dtype) || out.length < n)) {
    const what = isTypedCode(dtype) ? `${dtypeName(dtype)}[${n}]` : "a plain value";
    throw c.mismatch(root, `${c.sig} of ${what}`, `${c.sig} into a ${dtypeName(dtypeOf(out))}[${out.length}] buffer`);
  }
  if (!announced) {
    if (out && got.bytes !== null && got.bytes.buffer === out.buffer && got.bytes.byteOffset === out.byteOffset) return fit(out, got.count);
    return decodeData(incoming(root, got), out);
  }
  const buf = out ? fit(out, n) : newOf(dtype, n);
  const counts = balancedCounts(n, c.size);
  await bcastScatterAllgather(c, root, buf, counts, offsetsOf(counts));
  return buf;
}

/** Buffer and Uint8Array hold the same bytes (as a receive accepts either for the other). */
function sameDtype(a: number, b: number): boolean {
  const u8 = (x: number) => (x === DType.BUFFER ? DType.U8 : x);
  return u8(a) === u8(b);
}

function incoming(source: number, enc: Encoded): Incoming {
  return { source, tag: 0, dtype: enc.dtype, count: enc.count, payload: enc.bytes as Buffer | null };
}
