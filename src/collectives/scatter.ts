/**
 * Scatter and scatterv: the root's items, one per rank. Linear (the root sends each rank its
 * block): bound by the root's link like gather. Typed blocks are sent straight out of the root's
 * array; receivers may give `out` to receive into.
 */
import { UsageError } from "../errors.js";
import { isTypedArray, type TypedArray } from "../transport/dtype.js";
import { checkCounts, requireTyped, total, type OutOptions } from "./args.js";
import { copyOf, offsetsOf } from "./blocks.js";
import { scatterLinear } from "./ring.js";
import type { CollectiveSequence } from "./sequence.js";
import { copyValue } from "./values.js";

/** The scatter algorithms. */
export type ScatterAlgorithm = "linear";

/** What the scatter choice depends on. */
export interface ScatterFacts {
  /** Ranks in the communicator. */
  size: number;
}

/** The scatter algorithm for these facts. */
export function chooseScatter(_f: ScatterFacts): ScatterAlgorithm {
  return "linear";
}

/** Scatter of the root's items (root checked by the caller). */
export function runScatter(calls: CollectiveSequence, data: unknown, root: number, opts: OutOptions | undefined): Promise<unknown> {
  const p = calls.size;
  const isRoot = calls.rank === root;
  calls.forced("scatter", opts?.algorithm);
  if (isRoot) {
    if (isTypedArray(data)) {
      if (data.length % p !== 0)
        throw new UsageError(`scatter of a typed array needs a length divisible by the size (${data.length} over ${p}); use scatterv`, { comm: calls.name, op: "scatter" });
    } else if (!Array.isArray(data) || data.length !== p) {
      throw new UsageError(`scatter needs an array of exactly ${p} items (or a typed array) on the root, got ${Array.isArray(data) ? `${data.length} items` : typeof data}`, {
        comm: calls.name,
        op: "scatter",
      });
    }
  }
  const c = calls.begin("scatter", `root ${root}`, opts, true);
  const work = async (): Promise<unknown> => {
    if (isRoot && isTypedArray(data)) {
      const counts = new Array<number>(p).fill(data.length / p);
      return rootsBlock(await scatterLinear(c, root, data, counts, offsetsOf(counts), opts?.out), opts?.out);
    }
    if (isRoot) {
      const items = data as unknown[];
      await Promise.all(items.map((item, dst) => (dst === root ? undefined : c.send(dst, item))));
      return copyValue(items[root]);
    }
    return c.recv(root, opts?.out);
  };
  return calls.run(work(), c);
}

/** Scatterv: `counts[i]` elements of the root's typed array go to rank i (root checked by the caller). */
export function runScatterv<T extends TypedArray>(
  calls: CollectiveSequence,
  data: T | undefined,
  counts: readonly number[] | undefined,
  root: number,
  opts: OutOptions<T> | undefined,
): Promise<T> {
  const isRoot = calls.rank === root;
  calls.forced("scatter", opts?.algorithm);
  let cs: readonly number[] = [];
  if (isRoot) {
    requireTyped(data, "scatterv");
    if (!counts) throw new UsageError("scatterv needs counts on the root", { comm: calls.name, op: "scatterv" });
    cs = checkCounts(calls, counts, "scatterv");
    const n = total(cs);
    if (n > data.length) throw new UsageError(`scatterv: counts add up to ${n} but the data has ${data.length} elements`, { comm: calls.name, op: "scatterv" });
  }
  const c = calls.begin("scatterv", `root ${root}`, opts, true);
  const work = async () => {
    const block = await scatterLinear(c, root, isRoot ? data! : null, cs, offsetsOf(cs), opts?.out);
    return isRoot ? rootsBlock(block, opts?.out) : block;
  };
  return calls.run(work(), c) as Promise<T>;
}

/** The root's own block: in `out` already, or a view of its data that it gets a copy of. */
function rootsBlock(block: TypedArray, out: TypedArray | undefined): TypedArray {
  return out ? block : copyOf(block);
}
