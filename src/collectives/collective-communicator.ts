/**
 * The collective layer of a communicator: barrier, bcast, reduce, allreduce, gather(v),
 * allgather(v), scatter(v), alltoall(v), reduceScatter, scan, exscan and their non-blocking
 * `i` forms. Typed arrays are reduced element-wise and travel as raw bytes; other values travel as
 * msgpack (like mpi4py's lowercase methods). Every call has a sequence number and a signature;
 * ranks that disagree get a {@link CollectiveMismatchError} on every rank instead of a hang.
 */
import { performance } from "node:perf_hooks";
import { BaseCommunicator } from "../comm/communicator.js";
import type { ContextState, Engine } from "../comm/engine.js";
import type { Incoming } from "../comm/matching.js";
import { Request } from "../comm/request.js";
import { encodeData, decodeData } from "../comm/payload.js";
import { CollectiveMismatchError, UsageError } from "../errors.js";
import { dtypeName, dtypeOf, isTypedArray, type TypedArray } from "../transport/dtype.js";
import { balancedCounts, copyOf, like, offsetsOf, put } from "./blocks.js";
import { Coll, collTag, mismatchError } from "./coll.js";
import { Op } from "./op.js";
import {
  allgatherBruck,
  allgatherRecursiveDoubling,
  alltoallItems,
  bcastScatterAllgather,
  gatherBlocks,
  ringAllgather,
  ringReduceScatter,
  scatterBlocks,
} from "./ring.js";
import {
  ALLGATHER_RING_MIN_BYTES,
  ALLREDUCE_RING_MIN_BYTES,
  ALLREDUCE_RING_MIN_BYTES_MANY,
  ALLTOALL_PAIRWISE_MIN_BYTES,
  BCAST_SCATTER_MIN_BYTES,
  BCAST_SCATTER_MIN_RANKS,
  forced,
  REDUCE_SCATTER_GATHER_MIN_BYTES,
  type CollectiveName,
} from "./select.js";
import { allreduceRecursiveDoubling, barrierDissemination, bcastBinomial, reduceBinomial, scanRecursiveDoubling } from "./tree.js";

/** Options every collective takes. */
export interface CollectiveOptions {
  /** Deadline in ms (default `ZMPI_TIMEOUT`). */
  timeoutMs?: number;
  /** Force an algorithm (must be the same on every rank); see `ALGORITHMS` in select.ts. */
  algorithm?: string;
}

/** Options of collectives that can write into a caller's typed array. */
export interface OutOptions<O extends TypedArray = TypedArray> extends CollectiveOptions {
  /** Typed array to write the result into (may be the input itself: in place). */
  out?: O;
}

/** How many recent calls' signatures are kept to check late messages. */
const SIG_MEMORY = 256;

function describe(x: unknown): string {
  if (isTypedArray(x)) return `${dtypeName(dtypeOf(x))}[${x.length}]`;
  if (x === undefined) return "undefined";
  return "object";
}

function isPof2(p: number): boolean {
  return (p & (p - 1)) === 0;
}

/** Point-to-point plus collectives. */
export class CollectiveCommunicator extends BaseCommunicator {
  private collSeq = 0;
  private readonly sigs = new Map<number, string>();

  /** @internal */
  constructor(engine: Engine, ctx: ContextState) {
    super(engine, ctx);
    ctx.onCollArrive = (m) => this.checkArrival(m);
  }

  // ---- bookkeeping -------------------------------------------------------------------------

  private checkArrival(m: Incoming): void {
    const sig = this.sigs.get(m.tag);
    if (sig !== undefined && m.meta !== sig) {
      this.engine.failEverywhere(mismatchError(this.name, sig.slice(0, sig.indexOf("(")), this.rank, m.source, String(m.meta), sig, m.tag));
    }
  }

  /** @internal builds and spreads the mismatch error for a message that belongs to another call. */
  collectiveMismatch(source: number, theirs: string, mine: string, seq: number): CollectiveMismatchError {
    const err = mismatchError(this.name, mine.slice(0, mine.indexOf("(")), this.rank, source, theirs, mine, seq);
    this.engine.failEverywhere(err);
    return err;
  }

  /** Starts a call: takes the next sequence number, records the signature, checks early messages. */
  private begin(op: string, sig: string, opts: CollectiveOptions | undefined): Coll {
    this.engine.check();
    const seq = this.collSeq++;
    const full = `${op}(${sig})`;
    const tag = collTag(seq);
    this.sigs.set(tag, full);
    this.sigs.delete(collTag(seq - SIG_MEMORY));
    const c = new Coll(this, this.ctx.coll, seq, full, op, opts?.timeoutMs);
    for (const m of this.ctx.coll.pending()) if (m.tag === tag && m.meta !== full) throw this.collectiveMismatch(m.source, String(m.meta), full, seq);
    return c;
  }

  private run<T>(p: Promise<T>): Promise<T> {
    const t0 = performance.now();
    const counters = this.engine.counters;
    counters.collectiveCalls++;
    return p.finally(() => {
      counters.collectiveMs += performance.now() - t0;
    });
  }

  private checkRoot(root: unknown, op: string): asserts root is number {
    this.checkRank(root, op, "root");
  }

  private checkOp(op: unknown, name: string): asserts op is Op {
    if (!(op instanceof Op)) throw new UsageError(`${name} needs an Op (Op.SUM, Op.MAX, Op.create(fn), …), got ${String(op)}`, { comm: this.name, op: name });
  }

  private algo(name: CollectiveName, opts: CollectiveOptions | undefined): string | null {
    return forced(name, opts?.algorithm);
  }

  private checkOut(out: TypedArray | undefined, like: TypedArray, n: number, op: string): void {
    if (!out) return;
    if (dtypeOf(out) !== dtypeOf(like)) throw new UsageError(`out is ${dtypeName(dtypeOf(out))} but the data is ${dtypeName(dtypeOf(like))}`, { comm: this.name, op });
    if (out.length < n) throw new UsageError(`out has ${out.length} elements, the result needs ${n}`, { comm: this.name, op });
  }

  private static fit<T extends TypedArray>(out: T, n: number): T {
    return (out.length === n ? out : out.subarray(0, n)) as T;
  }

  // ---- barrier -----------------------------------------------------------------------------

  /** Blocks until every rank of the communicator has called it (dissemination algorithm). */
  barrier(opts?: CollectiveOptions): Promise<void> {
    this.algo("barrier", opts);
    const c = this.begin("barrier", "", opts);
    return this.run(this.size === 1 ? Promise.resolve() : barrierDissemination(c));
  }

  // ---- bcast -------------------------------------------------------------------------------

  /**
   * The root's `data` on every rank. Non-roots pass `undefined`, or a typed array of the root's
   * length and type to receive into (MPI's buffer style, which also enables the scatter + allgather
   * algorithm for large arrays).
   */
  bcast<T>(data: T | undefined, root = 0, opts?: OutOptions): Promise<T> {
    this.checkRoot(root, "bcast");
    const isRoot = this.rank === root;
    if (isRoot) encodeCheck(data);
    const buffer = isTypedArray(data) ? data : opts?.out;
    const forcedAlg = this.algo("bcast", opts);
    const big = buffer !== undefined && buffer.byteLength >= BCAST_SCATTER_MIN_BYTES && this.size >= BCAST_SCATTER_MIN_RANKS;
    const alg = forcedAlg ?? (big ? "scatter-allgather" : "binomial");
    if (alg === "scatter-allgather" && buffer === undefined) {
      throw new UsageError("the scatter-allgather bcast needs a typed array on every rank (the root's data, a receive buffer elsewhere)", { comm: this.name, op: "bcast" });
    }
    const sig = alg === "binomial" ? `root ${root}, binomial` : `${describe(buffer)}, root ${root}, ${alg}`;
    const c = this.begin("bcast", sig, opts);
    const work = async (): Promise<T> => {
      if (alg === "scatter-allgather") {
        const buf = buffer!;
        const counts = balancedCounts(buf.length, this.size);
        await bcastScatterAllgather(c, root, buf, counts, offsetsOf(counts));
        return buf as T;
      }
      // A large root array goes zero-copy (same-machine children copy it straight out of the root);
      // the root's call has not returned, so its array cannot change meanwhile.
      const enc = isRoot ? encodeData(data, this.engine.config.eagerLimit) : null;
      const out = isRoot ? undefined : isTypedArray(data) ? data : opts?.out;
      const got = this.size === 1 ? enc! : await bcastBinomial(c, root, enc, out);
      if (isRoot) return data as T;
      if (out && got.bytes !== null && got.bytes.buffer === out.buffer && got.bytes.byteOffset === out.byteOffset) {
        return (out.length === got.count ? out : out.subarray(0, got.count)) as T;
      }
      const m: Incoming = { source: root, tag: 0, dtype: got.dtype, count: got.count, payload: got.bytes as Buffer | null };
      return decodeData(m, out) as T;
    };
    return this.run(work());
  }

  // ---- reduce / allreduce ------------------------------------------------------------------

  /** The reduction of every rank's `data` with `op`, on `root` (undefined elsewhere). */
  reduce<T>(data: T, op: Op, root = 0, opts?: OutOptions): Promise<T | undefined> {
    this.checkOp(op, "reduce");
    this.checkRoot(root, "reduce");
    encodeCheck(data);
    if (isTypedArray(data)) op.check(data);
    const bytes = isTypedArray(data) ? data.byteLength : 0;
    const alg = this.algo("reduce", opts) ?? (isTypedArray(data) && op.commutative && bytes >= REDUCE_SCATTER_GATHER_MIN_BYTES && this.size > 1 ? "reduce-scatter-gather" : "binomial");
    if (alg === "reduce-scatter-gather" && (!isTypedArray(data) || !op.commutative)) {
      throw new UsageError("reduce-scatter-gather needs a typed array and a commutative op", { comm: this.name, op: "reduce" });
    }
    if (isTypedArray(data) && this.rank === root) this.checkOut(opts?.out, data, data.length, "reduce");
    const c = this.begin("reduce", `${describe(data)}, ${op.name}, root ${root}, ${alg}`, opts);
    const work = async (): Promise<T | undefined> => {
      let result: unknown;
      if (alg === "reduce-scatter-gather") {
        const buf = copyOf(data as TypedArray);
        const counts = balancedCounts(buf.length, this.size);
        const offs = offsetsOf(counts);
        await ringReduceScatter(c, buf, op, counts, offs);
        const mine = buf.subarray(offs[this.rank]!, offs[this.rank]! + counts[this.rank]!);
        await gatherBlocks(c, root, this.rank === root ? buf : null, mine, counts, offs);
        result = this.rank === root ? buf : undefined;
      } else {
        result = this.size === 1 ? copyValue(data) : await reduceBinomial(c, data, op, root);
      }
      const out = opts?.out;
      if (this.rank === root && out && isTypedArray(result)) {
        put(out, result, 0);
        return CollectiveCommunicator.fit(out, result.length) as T;
      }
      return result as T | undefined;
    };
    return this.run(work());
  }

  /**
   * The reduction of every rank's `data` with `op`, on every rank. Typed arrays: element-wise,
   * into a new array or `opts.out` (pass the input itself as `out` to reduce in place).
   */
  allreduce<T>(data: T, op: Op, opts?: OutOptions): Promise<T> {
    this.checkOp(op, "allreduce");
    encodeCheck(data);
    const typed = isTypedArray(data);
    if (typed) {
      op.check(data);
      this.checkOut(opts?.out, data, data.length, "allreduce");
    }
    const n = typed ? data.length : 0;
    const ringOk = typed && op.commutative && n >= this.size;
    const ringFrom = this.size === 2 ? ALLREDUCE_RING_MIN_BYTES : ALLREDUCE_RING_MIN_BYTES_MANY;
    const auto = ringOk && data.byteLength > ringFrom ? "ring" : "recursive-doubling";
    const alg = this.algo("allreduce", opts) ?? auto;
    if (alg === "ring" && !(typed && op.commutative)) throw new UsageError("the ring allreduce needs a typed array and a commutative op", { comm: this.name, op: "allreduce" });
    const c = this.begin("allreduce", `${describe(data)}, ${op.name}, ${alg}`, opts);
    const work = async (): Promise<T> => {
      if (alg === "ring") {
        const src = data as TypedArray;
        const out = opts?.out;
        const buf = out ? CollectiveCommunicator.fit(out, n) : like(src, n);
        const counts = balancedCounts(n, this.size);
        const offs = offsetsOf(counts);
        await ringReduceScatter(c, buf, op, counts, offs, src);
        if (this.size > 1) await ringAllgather(c, buf, counts, offs);
        return buf as T;
      }
      const result = this.size === 1 ? copyValue(data) : await allreduceRecursiveDoubling(c, data, op);
      const out = opts?.out;
      if (out && isTypedArray(result)) {
        put(out, result, 0);
        return CollectiveCommunicator.fit(out, n) as T;
      }
      return result as T;
    };
    return this.run(work());
  }

  // ---- gather / allgather ------------------------------------------------------------------

  /**
   * Every rank's `data` on `root`: plain values as an array indexed by rank; typed arrays (the same
   * length on every rank) as one array with the ranks' blocks in order. Undefined elsewhere.
   */
  gather<T extends TypedArray>(data: T, root?: number, opts?: OutOptions<T>): Promise<T | undefined>;
  gather<T>(data: T, root?: number, opts?: CollectiveOptions): Promise<T[] | undefined>;
  gather(data: unknown, root = 0, opts?: OutOptions): Promise<unknown> {
    this.checkRoot(root, "gather");
    encodeCheck(data);
    if (isTypedArray(data)) {
      const counts = new Array<number>(this.size).fill(data.length);
      return this.gathervImpl("gather", data, counts, root, opts, describe(data));
    }
    const c = this.begin("gather", `object, root ${root}`, opts);
    const work = async (): Promise<unknown> => {
      if (this.rank !== root) {
        await c.send(root, data);
        return undefined;
      }
      const out = new Array<unknown>(this.size);
      out[root] = copyValue(data);
      await Promise.all(
        Array.from({ length: this.size }, async (_, src) => {
          if (src !== root) out[src] = await c.recv(src);
        }),
      );
      return out;
    };
    return this.run(work());
  }

  /**
   * Typed arrays of different lengths gathered on `root` into one array, blocks in rank order.
   * `counts` (every rank's length) may be omitted: the root then learns them first.
   */
  async gatherv<T extends TypedArray>(data: T, counts?: readonly number[], root = 0, opts?: OutOptions<T>): Promise<T | undefined> {
    this.checkRoot(root, "gatherv");
    requireTyped(data, "gatherv");
    const cs = counts ? this.checkCounts(counts, "gatherv") : await this.allgather(data.length);
    if (cs[this.rank] !== data.length) throw new UsageError(`gatherv: counts[${this.rank}] is ${cs[this.rank]} but this rank passed ${data.length} elements`, { comm: this.name, op: "gatherv" });
    return this.gathervImpl("gatherv", data, cs, root, opts, dtypeName(dtypeOf(data))) as Promise<T | undefined>;
  }

  private gathervImpl(op: string, data: TypedArray, counts: readonly number[], root: number, opts: OutOptions | undefined, desc: string): Promise<TypedArray | undefined> {
    const total = counts.reduce((a, b) => a + b, 0);
    if (this.rank === root) this.checkOut(opts?.out, data, total, op);
    const c = this.begin(op, `${desc}, root ${root}`, opts);
    const work = async () => {
      const offs = offsetsOf(counts);
      const buf = this.rank === root ? (opts?.out ? CollectiveCommunicator.fit(opts.out, total) : like(data, total)) : null;
      await gatherBlocks(c, root, buf, data, counts, offs);
      return buf ?? undefined;
    };
    return this.run(work());
  }

  /** Every rank's `data` on every rank (plain values: array by rank; typed arrays: one array, rank blocks in order). */
  allgather<T extends TypedArray>(data: T, opts?: OutOptions<T>): Promise<T>;
  allgather<T>(data: T, opts?: CollectiveOptions): Promise<T[]>;
  allgather(data: unknown, opts?: OutOptions): Promise<unknown> {
    encodeCheck(data);
    if (isTypedArray(data)) {
      const k = data.length;
      const bytes = data.byteLength * this.size;
      const auto = bytes >= ALLGATHER_RING_MIN_BYTES ? "ring" : isPof2(this.size) ? "recursive-doubling" : "bruck";
      const alg = this.algo("allgather", opts) ?? auto;
      if (alg === "recursive-doubling" && !isPof2(this.size)) throw new UsageError(`recursive-doubling allgather needs a power-of-two size, not ${this.size}`, { comm: this.name, op: "allgather" });
      this.checkOut(opts?.out, data, k * this.size, "allgather");
      const c = this.begin("allgather", `${describe(data)}, ${alg}`, opts);
      const work = async () => {
        const total = k * this.size;
        const buf = opts?.out ? CollectiveCommunicator.fit(opts.out, total) : like(data, total);
        put(buf, data, this.rank * k);
        if (this.size === 1) return buf;
        if (alg === "ring") {
          const counts = new Array<number>(this.size).fill(k);
          await ringAllgather(c, buf, counts, offsetsOf(counts));
        } else if (alg === "recursive-doubling") {
          await allgatherRecursiveDoubling(c, buf, k);
        } else {
          const parts = await allgatherBruck(c, data);
          parts.forEach((part, r) => put(buf, part as TypedArray, r * k));
        }
        return buf;
      };
      return this.run(work());
    }
    const alg = this.algo("allgather", opts) ?? "bruck";
    if (alg !== "bruck") throw new UsageError(`plain values are allgathered with bruck, not ${alg}`, { comm: this.name, op: "allgather" });
    const c = this.begin("allgather", `object, bruck`, opts);
    return this.run(this.size === 1 ? Promise.resolve([copyValue(data)]) : allgatherBruck(c, data));
  }

  /** Typed arrays of different lengths on every rank, concatenated in rank order. `counts` may be omitted. */
  async allgatherv<T extends TypedArray>(data: T, counts?: readonly number[], opts?: OutOptions<T>): Promise<T> {
    requireTyped(data, "allgatherv");
    const cs = counts ? this.checkCounts(counts, "allgatherv") : await this.allgather(data.length);
    if (cs[this.rank] !== data.length) throw new UsageError(`allgatherv: counts[${this.rank}] is ${cs[this.rank]} but this rank passed ${data.length} elements`, { comm: this.name, op: "allgatherv" });
    const total = cs.reduce((a, b) => a + b, 0);
    this.checkOut(opts?.out, data, total, "allgatherv");
    const c = this.begin("allgatherv", `${dtypeName(dtypeOf(data))}, ring`, opts);
    const work = async () => {
      const offs = offsetsOf(cs);
      const buf = opts?.out ? CollectiveCommunicator.fit(opts.out, total) : like(data, total);
      put(buf, data, offs[this.rank]!);
      if (this.size > 1) await ringAllgather(c, buf, cs, offs);
      return buf as T;
    };
    return this.run(work());
  }

  // ---- scatter -----------------------------------------------------------------------------

  /**
   * The root's items, one per rank: a plain array of `size` items, or a typed array split into
   * `size` equal blocks. Non-roots pass `undefined` (or a typed `out` to receive into).
   */
  scatter<T extends TypedArray>(data: T | undefined, root?: number, opts?: OutOptions<T>): Promise<T>;
  scatter<T>(items: T[] | undefined, root?: number, opts?: CollectiveOptions): Promise<T>;
  scatter(data: unknown, root = 0, opts?: OutOptions): Promise<unknown> {
    this.checkRoot(root, "scatter");
    const isRoot = this.rank === root;
    if (isRoot) {
      if (isTypedArray(data)) {
        if (data.length % this.size !== 0) {
          throw new UsageError(`scatter of a typed array needs a length divisible by the size (${data.length} over ${this.size}); use scatterv`, { comm: this.name, op: "scatter" });
        }
      } else if (!Array.isArray(data) || data.length !== this.size) {
        throw new UsageError(`scatter needs an array of exactly ${this.size} items (or a typed array) on the root, got ${Array.isArray(data) ? `${data.length} items` : typeof data}`, { comm: this.name, op: "scatter" });
      }
    }
    const c = this.begin("scatter", `root ${root}`, opts);
    const work = async (): Promise<unknown> => {
      if (isTypedArray(data) && isRoot) {
        const counts = new Array<number>(this.size).fill(data.length / this.size);
        return scatterBlocks(c, root, data, counts, offsetsOf(counts), opts?.out);
      }
      if (isRoot) {
        const items = data as unknown[];
        await Promise.all(items.map((item, dst) => (dst === root ? undefined : c.send(dst, item))));
        return copyValue(items[root]);
      }
      return c.recv(root, opts?.out);
    };
    return this.run(work());
  }

  /** Typed blocks of different lengths from the root: `counts[i]` elements go to rank i. */
  scatterv<T extends TypedArray>(data: T | undefined, counts: readonly number[] | undefined, root = 0, opts?: OutOptions<T>): Promise<T> {
    this.checkRoot(root, "scatterv");
    const isRoot = this.rank === root;
    let cs: readonly number[] = [];
    if (isRoot) {
      requireTyped(data, "scatterv");
      if (!counts) throw new UsageError("scatterv needs counts on the root", { comm: this.name, op: "scatterv" });
      cs = this.checkCounts(counts, "scatterv");
      const total = cs.reduce((a, b) => a + b, 0);
      if (total > data.length) throw new UsageError(`scatterv: counts add up to ${total} but the data has ${data.length} elements`, { comm: this.name, op: "scatterv" });
    }
    const c = this.begin("scatterv", `root ${root}`, opts);
    return this.run(scatterBlocks(c, root, isRoot ? data! : null, cs, offsetsOf(cs), opts?.out) as Promise<T>);
  }

  // ---- alltoall ----------------------------------------------------------------------------

  /**
   * Item i of this rank goes to rank i; returns the items addressed to this rank, indexed by
   * source. Plain arrays of `size` items, or typed arrays of `size` equal blocks.
   */
  alltoall<T extends TypedArray>(data: T, opts?: OutOptions<T>): Promise<T>;
  alltoall<T>(items: T[], opts?: CollectiveOptions): Promise<T[]>;
  alltoall(data: unknown, opts?: OutOptions): Promise<unknown> {
    if (isTypedArray(data)) {
      if (data.length % this.size !== 0) throw new UsageError(`alltoall of a typed array needs a length divisible by the size (${data.length} over ${this.size}); use alltoallv`, { comm: this.name, op: "alltoall" });
      const k = data.length / this.size;
      const counts = new Array<number>(this.size).fill(k);
      return this.alltoallvImpl("alltoall", data, counts, counts, opts, describe(data));
    }
    if (!Array.isArray(data) || data.length !== this.size) {
      throw new UsageError(`alltoall needs an array of exactly ${this.size} items (or a typed array), got ${Array.isArray(data) ? `${data.length} items` : typeof data}`, { comm: this.name, op: "alltoall" });
    }
    const alg = this.algo("alltoall", opts) ?? "linear";
    const c = this.begin("alltoall", `object, ${alg}`, opts);
    const out = new Array<unknown>(this.size);
    const items = data as unknown[];
    return this.run(alltoallItems(c, alg === "pairwise", (i) => items[i], (i, v) => (out[i] = i === this.rank ? copyValue(v) : v)).then(() => out));
  }

  /**
   * Typed alltoall with per-destination counts. `recvCounts` (what each source sends here) may be
   * omitted: the ranks exchange counts first.
   */
  async alltoallv<T extends TypedArray>(data: T, sendCounts: readonly number[], recvCounts?: readonly number[], opts?: OutOptions<T>): Promise<T> {
    requireTyped(data, "alltoallv");
    const sc = this.checkCounts(sendCounts, "alltoallv");
    const total = sc.reduce((a, b) => a + b, 0);
    if (total > data.length) throw new UsageError(`alltoallv: send counts add up to ${total} but the data has ${data.length} elements`, { comm: this.name, op: "alltoallv" });
    const rc = recvCounts ? this.checkCounts(recvCounts, "alltoallv") : await this.alltoall(Int32Array.from(sc)).then((a) => Array.from(a));
    return this.alltoallvImpl("alltoallv", data, sc, rc, opts, dtypeName(dtypeOf(data))) as Promise<T>;
  }

  private alltoallvImpl(op: string, data: TypedArray, sc: readonly number[], rc: readonly number[], opts: OutOptions | undefined, desc: string): Promise<TypedArray> {
    const total = rc.reduce((a, b) => a + b, 0);
    this.checkOut(opts?.out, data, total, op);
    const maxBlock = Math.max(0, ...sc) * data.BYTES_PER_ELEMENT;
    const alg = this.algo("alltoall", opts) ?? (maxBlock >= ALLTOALL_PAIRWISE_MIN_BYTES ? "pairwise" : "linear");
    const c = this.begin(op, `${desc}, ${alg}`, opts);
    const soff = offsetsOf(sc);
    const roff = offsetsOf(rc);
    const buf = opts?.out ? CollectiveCommunicator.fit(opts.out, total) : like(data, total);
    const send = (i: number) => data.subarray(soff[i]!, soff[i]! + sc[i]!);
    const recv = (i: number, v: unknown) => {
      const block = v as TypedArray;
      if (block.length !== rc[i]) throw new UsageError(`${op}: rank ${i} sent ${block.length} elements, expected ${rc[i]}`, { comm: this.name, op, ranks: [i] });
      put(buf, block, roff[i]!);
    };
    return this.run(alltoallItems(c, alg === "pairwise", send, recv).then(() => buf));
  }

  // ---- reduce-scatter and scans ------------------------------------------------------------

  /**
   * Reduces every rank's typed array with `op` and gives rank i block i of the result. `counts`
   * (block sizes, summing to the length) defaults to a balanced split (the first `length % size`
   * blocks one longer), so any length works.
   */
  reduceScatter<T extends TypedArray>(data: T, op: Op, counts?: readonly number[], opts?: OutOptions<T>): Promise<T> {
    this.checkOp(op, "reduceScatter");
    requireTyped(data, "reduceScatter");
    op.check(data);
    const cs = counts ? this.checkCounts(counts, "reduceScatter") : balancedCounts(data.length, this.size);
    const total = cs.reduce((a, b) => a + b, 0);
    if (total !== data.length) throw new UsageError(`reduceScatter: counts add up to ${total} but the data has ${data.length} elements`, { comm: this.name, op: "reduceScatter" });
    this.checkOut(opts?.out, data, cs[this.rank]!, "reduceScatter");
    const alg = this.algo("reduceScatter", opts) ?? (op.commutative ? "ring" : "reduce-scatterv");
    if (alg === "ring" && !op.commutative) throw new UsageError("the ring reduce-scatter needs a commutative op", { comm: this.name, op: "reduceScatter" });
    const c = this.begin("reduceScatter", `${describe(data)}, ${op.name}, [${cs.join(",")}], ${alg}`, opts);
    const offs = offsetsOf(cs);
    const work = async (): Promise<T> => {
      let block: TypedArray;
      if (alg === "ring") {
        const buf = copyOf(data);
        if (this.size > 1) await ringReduceScatter(c, buf, op, cs, offs);
        block = buf.subarray(offs[this.rank]!, offs[this.rank]! + cs[this.rank]!);
      } else {
        const full = (this.size === 1 ? copyOf(data) : await reduceBinomial(c, data, op, 0)) as TypedArray | undefined;
        block = this.size === 1 ? full! : await scatterBlocks(c, 0, full ?? null, cs, offs);
      }
      const out = opts?.out;
      if (out) {
        put(out, block, 0);
        return CollectiveCommunicator.fit(out, block.length);
      }
      return block as T;
    };
    return this.run(work());
  }

  /** Inclusive prefix reduction: rank i gets `data_0 ⊕ … ⊕ data_i`. */
  scan<T>(data: T, op: Op, opts?: CollectiveOptions): Promise<T> {
    return this.scanImpl("scan", data, op, false, opts) as Promise<T>;
  }

  /** Exclusive prefix reduction: rank i gets `data_0 ⊕ … ⊕ data_(i-1)`; rank 0 gets undefined. */
  exscan<T>(data: T, op: Op, opts?: CollectiveOptions): Promise<T | undefined> {
    return this.scanImpl("exscan", data, op, true, opts) as Promise<T | undefined>;
  }

  private scanImpl(name: string, data: unknown, op: Op, exclusive: boolean, opts?: CollectiveOptions): Promise<unknown> {
    this.checkOp(op, name);
    encodeCheck(data);
    if (isTypedArray(data)) op.check(data);
    this.algo("scan", opts);
    const c = this.begin(name, `${describe(data)}, ${op.name}`, opts);
    if (this.size === 1) return this.run(Promise.resolve(exclusive ? undefined : copyValue(data)));
    return this.run(scanRecursiveDoubling(c, data, op, exclusive));
  }

  // ---- non-blocking forms ------------------------------------------------------------------

  /** Non-blocking {@link barrier}. */
  ibarrier(opts?: CollectiveOptions): Request<void> {
    return new Request(this.barrier(opts));
  }
  /** Non-blocking {@link bcast}. */
  ibcast<T>(data: T | undefined, root = 0, opts?: OutOptions): Request<T> {
    return new Request(this.bcast(data, root, opts));
  }
  /** Non-blocking {@link reduce}. */
  ireduce<T>(data: T, op: Op, root = 0, opts?: OutOptions): Request<T | undefined> {
    return new Request(this.reduce(data, op, root, opts));
  }
  /** Non-blocking {@link allreduce}. */
  iallreduce<T>(data: T, op: Op, opts?: OutOptions): Request<T> {
    return new Request(this.allreduce(data, op, opts));
  }
  /** Non-blocking {@link gather}. */
  igather<T>(data: T, root = 0, opts?: CollectiveOptions): Request<unknown> {
    return new Request(this.gather(data as unknown, root, opts));
  }
  /** Non-blocking {@link allgather}. */
  iallgather<T>(data: T, opts?: CollectiveOptions): Request<unknown> {
    return new Request(this.allgather(data as unknown, opts));
  }
  /** Non-blocking {@link scatter}. */
  iscatter<T>(data: T | undefined, root = 0, opts?: CollectiveOptions): Request<unknown> {
    return new Request(this.scatter(data as unknown[] | undefined, root, opts));
  }
  /** Non-blocking {@link alltoall}. */
  ialltoall<T>(items: T, opts?: CollectiveOptions): Request<unknown> {
    return new Request(this.alltoall(items as unknown[], opts));
  }
  /** Non-blocking {@link reduceScatter}. */
  ireduceScatter<T extends TypedArray>(data: T, op: Op, counts?: readonly number[], opts?: OutOptions<T>): Request<T> {
    return new Request(this.reduceScatter(data, op, counts, opts));
  }
  /** Non-blocking {@link scan}. */
  iscan<T>(data: T, op: Op, opts?: CollectiveOptions): Request<T> {
    return new Request(this.scan(data, op, opts));
  }
  /** Non-blocking {@link exscan}. */
  iexscan<T>(data: T, op: Op, opts?: CollectiveOptions): Request<T | undefined> {
    return new Request(this.exscan(data, op, opts));
  }

  // ---- helpers -----------------------------------------------------------------------------

  private checkCounts(counts: readonly number[], op: string): readonly number[] {
    if (!Array.isArray(counts) || counts.length !== this.size || !counts.every((x) => Number.isInteger(x) && x >= 0)) {
      throw new UsageError(`${op} needs ${this.size} non-negative integer counts, got ${JSON.stringify(counts)}`, { comm: this.name, op });
    }
    return counts;
  }
}

/** Fails early (before anything is sent) for values that cannot travel. */
function encodeCheck(data: unknown): void {
  if (typeof data === "function" || typeof data === "symbol") throw new UsageError(`cannot send a ${typeof data}`);
}

function requireTyped(data: unknown, op: string): asserts data is TypedArray {
  if (!isTypedArray(data)) throw new UsageError(`${op} works on typed arrays, got ${data === null ? "null" : typeof data}`, { op });
}

/** A private copy of the value this rank keeps for itself (so results never alias inputs). */
function copyValue<T>(v: T): T {
  if (isTypedArray(v)) return copyOf(v) as T;
  if (v === null || typeof v !== "object") return v;
  return structuredClone(v);
}
