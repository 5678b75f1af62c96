/**
 * Alltoall and alltoallv: item i of every rank goes to rank i. Linear (everything posted at once)
 * while blocks are short and latency dominates; pairwise (one peer per step, no incast) once a
 * block reaches 64 KiB. Both put exactly one message per ordered pair of ranks on the wire.
 */
import { UsageError } from "../errors.js";
import { dtypeName, dtypeOf, isTypedArray, type TypedArray } from "../transport/dtype.js";
import { checkCounts, checkOut, checkOutLate, describe, requireTyped, total, type OutOptions } from "./args.js";
import type { Coll } from "./coll.js";
import { copyOf, like, offsetsOf, overlaps, put } from "./blocks.js";
import { alltoallLinear, alltoallPairwise } from "./ring.js";
import { ALLTOALL_PAIRWISE_MIN_BYTES } from "./select.js";
import type { CollectiveSequence } from "./sequence.js";
import { copyValue, fit } from "./values.js";

/** The alltoall algorithms. */
export type AlltoallAlgorithm = "linear" | "pairwise";

/** What the alltoall choice depends on. */
export interface AlltoallFacts {
  /** Bytes of the largest block sent. */
  blockBytes: number;
}

/** The alltoall algorithm for these facts. */
export function chooseAlltoall(f: AlltoallFacts): AlltoallAlgorithm {
  return f.blockBytes >= ALLTOALL_PAIRWISE_MIN_BYTES ? "pairwise" : "linear";
}

const ALGORITHM = { linear: alltoallLinear, pairwise: alltoallPairwise } as const;

/** Alltoall of `size` items or `size` equal typed blocks. */
export function runAlltoall(calls: CollectiveSequence, data: unknown, opts: OutOptions | undefined): Promise<unknown> {
  const p = calls.size;
  if (isTypedArray(data)) {
    if (data.length % p !== 0)
      throw new UsageError(`alltoall of a typed array needs a length divisible by the size (${data.length} over ${p}); use alltoallv`, { comm: calls.name, op: "alltoall" });
    return alltoallTyped(calls, data, new Array<number>(p).fill(data.length / p), opts);
  }
  if (!Array.isArray(data) || data.length !== p) {
    throw new UsageError(`alltoall needs an array of exactly ${p} items (or a typed array), got ${Array.isArray(data) ? `${data.length} items` : typeof data}`, {
      comm: calls.name,
      op: "alltoall",
    });
  }
  const alg = (calls.forced("alltoall", opts?.algorithm) as AlltoallAlgorithm | null) ?? "linear";
  const c = calls.begin("alltoall", `object, ${alg}`, opts);
  const out = new Array<unknown>(p);
  const items = data as unknown[];
  return calls.run(
    ALGORITHM[alg](
      c,
      (i) => items[i],
      (i, v) => (out[i] = i === calls.rank ? copyValue(v) : v),
    ).then(() => out),
  );
}

/**
 * Alltoallv with per-destination counts. Without `recvCounts` the ranks exchange counts first, in
 * the same call (one sequence number, taken now).
 *
 * Its linear/pairwise choice is this rank's own schedule, not an agreed algorithm: block sizes
 * differ between ranks and no rank knows them all, but both schedules put the same messages on the
 * wire (one per ordered pair), so ranks that schedule differently still meet. The signature leaves
 * the schedule out for that reason.
 */
export function runAlltoallv<T extends TypedArray>(
  calls: CollectiveSequence,
  data: T,
  sendCounts: readonly number[],
  recvCounts: readonly number[] | undefined,
  opts: OutOptions<T> | undefined,
): Promise<T> {
  requireTyped(data, "alltoallv");
  const sc = checkCounts(calls, sendCounts, "alltoallv");
  const n = total(sc);
  if (n > data.length) throw new UsageError(`alltoallv: send counts add up to ${n} but the data has ${data.length} elements`, { comm: calls.name, op: "alltoallv" });
  const rc = recvCounts ? checkCounts(calls, recvCounts, "alltoallv") : null;
  if (rc) checkOut(calls, opts?.out, data, total(rc), "alltoallv");
  const alg = (calls.forced("alltoall", opts?.algorithm) as AlltoallAlgorithm | null) ?? chooseAlltoall({ blockBytes: Math.max(0, ...sc) * data.BYTES_PER_ELEMENT });
  const c = calls.begin("alltoallv", `${dtypeName(dtypeOf(data))}${rc ? "" : ", counts exchanged"}`, opts);
  const work = async () => {
    let counts = rc;
    if (!counts) {
      const got = new Array<number>(calls.size);
      await alltoallLinear(
        c,
        (i) => sc[i],
        (i, v) => (got[i] = v as number),
      );
      checkOutLate(calls, opts?.out, data, total(got), "alltoallv");
      counts = got;
    }
    return exchange(c, "alltoallv", alg, data, sc, counts, opts?.out);
  };
  return calls.run(work()) as Promise<T>;
}

/** Typed alltoall with equal blocks; the block size is the same on every rank, so is the choice. */
function alltoallTyped(calls: CollectiveSequence, data: TypedArray, counts: readonly number[], opts: OutOptions | undefined): Promise<TypedArray> {
  checkOut(calls, opts?.out, data, data.length, "alltoall");
  const alg = (calls.forced("alltoall", opts?.algorithm) as AlltoallAlgorithm | null) ?? chooseAlltoall({ blockBytes: counts[0]! * data.BYTES_PER_ELEMENT });
  const c = calls.begin("alltoall", `${describe(data)}, ${alg}`, opts);
  return calls.run(exchange(c, "alltoall", alg, data, counts, counts, opts?.out));
}

/** Sends block i of `data` (counts `sc`) to rank i and places the block from rank i (counts `rc`). */
async function exchange(
  c: Coll,
  op: string,
  alg: AlltoallAlgorithm,
  data: TypedArray,
  sc: readonly number[],
  rc: readonly number[],
  out: TypedArray | undefined,
): Promise<TypedArray> {
  const soff = offsetsOf(sc);
  const roff = offsetsOf(rc);
  const n = total(rc);
  const buf = out ? fit(out, n) : like(data, n);
  // In place (out shares memory with the input), a block received early would overwrite one not
  // yet sent (pairwise receives block r−s before it sends it at step p−s; a large block is sent
  // without a copy and read by the peer later): the blocks to send are copied once first.
  const src = overlaps(buf, data) ? copyOf(data) : data;
  const send = (i: number) => src.subarray(soff[i]!, soff[i]! + sc[i]!);
  const recv = (i: number, v: unknown) => {
    const block = v as TypedArray;
    if (block.length !== rc[i]) throw c.mismatch(i, `${op} sending ${block.length} elements to rank ${c.rank}`, `${c.sig} expecting ${rc[i]} from rank ${i}`);
    put(buf, block, roff[i]!);
  };
  await ALGORITHM[alg](c, send, recv);
  return buf;
}
