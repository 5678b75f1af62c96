/**
 * Gather and gatherv: every rank's data on the root. Linear (the root posts a receive per rank):
 * gather is bound by the root's link, and a tree would only add hops. Typed arrays land straight
 * in the root's result at their offsets; plain values come back as an array indexed by rank.
 */
import { UsageError } from "../errors.js";
import { dtypeName, dtypeOf, isTypedArray, type TypedArray } from "../transport/dtype.js";
import { checkCounts, checkOut, checkOutLate, describe, encodeCheck, requireTyped, total, type OutOptions } from "./args.js";
import { like, offsetsOf } from "./blocks.js";
import type { Coll } from "./coll.js";
import { gatherLinear } from "./ring.js";
import type { CollectiveSequence } from "./sequence.js";
import { copyValue, fit } from "./values.js";

/** The gather algorithms. */
export type GatherAlgorithm = "linear";

/** What the gather choice depends on. */
export interface GatherFacts {
  /** Ranks in the communicator. */
  size: number;
}

/** The gather algorithm for these facts. */
export function chooseGather(_f: GatherFacts): GatherAlgorithm {
  return "linear";
}

/** Gather of `data` to `root` (root checked by the caller). */
export function runGather(calls: CollectiveSequence, data: unknown, root: number, opts: OutOptions | undefined): Promise<unknown> {
  encodeCheck(data);
  calls.forced("gather", opts?.algorithm);
  if (isTypedArray(data)) return gatherTyped(calls, "gather", data, new Array<number>(calls.size).fill(data.length), root, opts, describe(data));
  const c = calls.begin("gather", `object, root ${root}`, opts, true);
  const work = async (): Promise<unknown> => {
    if (calls.rank !== root) {
      await c.send(root, data);
      return undefined;
    }
    const out = new Array<unknown>(calls.size);
    out[root] = copyValue(data);
    await Promise.all(
      Array.from({ length: calls.size }, async (_, src) => {
        if (src !== root) out[src] = await c.recv(src);
      }),
    );
    return out;
  };
  return calls.run(work(), c);
}

/**
 * Gatherv of typed blocks of different lengths to `root`. Without `counts` each rank sends its
 * length ahead of its block, in the same call (one sequence number, taken now).
 */
export function runGatherv<T extends TypedArray>(
  calls: CollectiveSequence,
  data: T,
  counts: readonly number[] | undefined,
  root: number,
  opts: OutOptions<T> | undefined,
): Promise<T | undefined> {
  requireTyped(data, "gatherv");
  calls.forced("gather", opts?.algorithm);
  const cs = counts ? checkCounts(calls, counts, "gatherv") : null;
  if (cs && cs[calls.rank] !== data.length)
    throw new UsageError(`gatherv: counts[${calls.rank}] is ${cs[calls.rank]} but this rank passed ${data.length} elements`, { comm: calls.name, op: "gatherv" });
  return gatherTyped(calls, "gatherv", data, cs, root, opts, dtypeName(dtypeOf(data))) as Promise<T | undefined>;
}

/** Typed gather; `counts` null: exchanged first, inside the call. */
function gatherTyped(
  calls: CollectiveSequence,
  op: string,
  data: TypedArray,
  counts: readonly number[] | null,
  root: number,
  opts: OutOptions | undefined,
  desc: string,
): Promise<TypedArray | undefined> {
  const isRoot = calls.rank === root;
  if (isRoot && counts) checkOut(calls, opts?.out, data, total(counts), op);
  const c = calls.begin(op, `${desc}, root ${root}${counts ? "" : ", counts exchanged"}`, opts, true);
  const work = async () => {
    if (!isRoot) {
      await Promise.all([counts ? undefined : c.send(root, data.length), gatherLinear(c, root, null, data, [], [])]);
      return undefined;
    }
    const cs = counts ?? (await exchangedCounts(c, data.length));
    const n = total(cs);
    if (!counts) checkOutLate(calls, opts?.out, data, n, op);
    const buf = opts?.out ? fit(opts.out, n) : like(data, n);
    await gatherLinear(c, root, buf, data, cs, offsetsOf(cs));
    return buf;
  };
  return calls.run(work(), c);
}

/** On the root: every rank's length, sent ahead of its block. */
async function exchangedCounts(c: Coll, mine: number): Promise<number[]> {
  const cs = new Array<number>(c.size).fill(mine);
  await Promise.all(
    Array.from({ length: c.size }, async (_, src) => {
      if (src !== c.rank) cs[src] = await c.recv<number>(src);
    }),
  );
  return cs;
}
