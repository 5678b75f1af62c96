/**
 * The collective layer of a communicator: barrier, bcast, reduce, allreduce, gather(v),
 * allgather(v), scatter(v), alltoall(v), reduceScatter, scan, exscan and their non-blocking `i`
 * forms. Typed arrays are reduced element-wise and travel as raw bytes; other values travel as
 * msgpack (like mpi4py's lowercase methods).
 *
 * The methods here are thin, as in mpi4py's `Comm.allreduce → PyMPI_allreduce`: they check what
 * every collective checks and hand off to the collective's own module (`allreduce.ts`, `bcast.ts`,
 * …), which chooses an algorithm from facts every rank shares and runs it. Sequence numbers and
 * signatures live in one place, {@link CollectiveSequence}.
 *
 * Rules every method keeps: a collective takes its place in the communicator's sequence when it is
 * called (so `i` forms may complete in any order); a result never shares memory with an input
 * unless `out` was passed (then it is `out`, or `out.subarray(0, n)`), roots included; reductions
 * default to `Op.SUM` (as mpi4py and torch do).
 */
import { BaseCommunicator } from "../comm/communicator.js";
import type { ContextState, Engine } from "../comm/engine.js";
import { Request } from "../comm/request.js";
import type { TypedArray } from "../transport/dtype.js";
import { runAllgather, runAllgatherv } from "./allgather.js";
import { runAllreduce } from "./allreduce.js";
import { runAlltoall, runAlltoallv } from "./alltoall.js";
import { checkOp, checkRoot, type CollectiveOptions, type OutOptions } from "./args.js";
import { runBarrier } from "./barrier.js";
import { runBcast } from "./bcast.js";
import { runGather, runGatherv } from "./gather.js";
import { Op } from "./op.js";
import { runReduce } from "./reduce.js";
import { runReduceScatter } from "./reduce-scatter.js";
import { runScan } from "./scan.js";
import { runScatter, runScatterv } from "./scatter.js";
import { CollectiveSequence } from "./sequence.js";

export type { CollectiveOptions, OutOptions } from "./args.js";

/** Point-to-point plus collectives. */
export class CollectiveCommunicator extends BaseCommunicator {
  readonly #calls: CollectiveSequence;

  /** @internal */
  constructor(engine: Engine, ctx: ContextState) {
    super(engine, ctx);
    this.#calls = new CollectiveSequence(this, ctx);
  }

  /** @internal the collective sequence, for collectives defined above this layer (finalize). */
  protected get collectiveSequence(): CollectiveSequence {
    return this.#calls;
  }

  /**
   * Resolves once every rank of the communicator has called it (dissemination algorithm).
   * @example await comm.barrier();
   */
  barrier(opts?: CollectiveOptions): Promise<void> {
    return runBarrier(this.#calls, opts);
  }

  /**
   * The root's `data` on every rank; the root gets a copy (or passes its array as `out` to keep it
   * without one). Non-roots pass `undefined`, or a typed array to receive into (treated exactly as
   * `out`). Any value, any size, any rank count.
   * @example const cfg = await comm.bcast(comm.rank === 0 ? loadConfig() : undefined, 0);
   */
  bcast<T>(data: T | undefined, root = 0, opts?: OutOptions): Promise<T> {
    checkRoot(this.#calls, root, "bcast");
    return runBcast(this.#calls, data, root, opts);
  }

  /**
   * The reduction of every rank's `data` with `op` (default `Op.SUM`) on `root`; undefined elsewhere.
   * @example const total = await comm.reduce(Float64Array.of(x), Op.SUM, 0);
   */
  reduce<T>(data: T, op: Op = Op.SUM, root = 0, opts?: OutOptions): Promise<T | undefined> {
    checkOp(this.#calls, op, "reduce");
    checkRoot(this.#calls, root, "reduce");
    return runReduce(this.#calls, data, op, root, opts);
  }

  /**
   * The reduction of every rank's `data` with `op` (default `Op.SUM`) on every rank. Typed arrays:
   * element-wise, into a new array or `opts.out` (the input itself reduces in place).
   * @example const grad = await comm.allreduce(local, Op.SUM, { out: local });
   */
  allreduce<T>(data: T, op: Op = Op.SUM, opts?: OutOptions): Promise<T> {
    checkOp(this.#calls, op, "allreduce");
    return runAllreduce(this.#calls, data, op, opts);
  }

  /**
   * Every rank's `data` on `root`: plain values as an array indexed by rank; typed arrays (the same
   * length on every rank) as one array with the ranks' blocks in order. Undefined elsewhere.
   * @example const rows = await comm.gather({ rank: comm.rank, ms }, 0);
   */
  gather<T extends TypedArray>(data: T, root?: number, opts?: OutOptions<T>): Promise<T | undefined>;
  gather<T>(data: T, root?: number, opts?: CollectiveOptions): Promise<T[] | undefined>;
  gather(data: unknown, root = 0, opts?: OutOptions): Promise<unknown> {
    checkRoot(this.#calls, root, "gather");
    return runGather(this.#calls, data, root, opts);
  }

  /**
   * Typed arrays of different lengths gathered on `root` into one array, blocks in rank order.
   * `counts` (every rank's length) may be omitted: each rank then sends its length first.
   * @example const all = await comm.gatherv(Float64Array.of(...mine), undefined, 0);
   */
  gatherv<T extends TypedArray>(data: T, counts?: readonly number[], root = 0, opts?: OutOptions<T>): Promise<T | undefined> {
    checkRoot(this.#calls, root, "gatherv");
    return runGatherv(this.#calls, data, counts, root, opts);
  }

  /**
   * Every rank's `data` on every rank (plain values: array by rank; typed arrays: one array, rank
   * blocks in order).
   * @example const hosts = await comm.allgather(os.hostname());
   */
  allgather<T extends TypedArray>(data: T, opts?: OutOptions<T>): Promise<T>;
  allgather<T>(data: T, opts?: CollectiveOptions): Promise<T[]>;
  allgather(data: unknown, opts?: OutOptions): Promise<unknown> {
    return runAllgather(this.#calls, data, opts);
  }

  /**
   * Typed arrays of different lengths on every rank, concatenated in rank order. `counts` may be omitted.
   * @example const all = await comm.allgatherv(new Int32Array(comm.rank + 1));
   */
  allgatherv<T extends TypedArray>(data: T, counts?: readonly number[], opts?: OutOptions<T>): Promise<T> {
    return runAllgatherv(this.#calls, data, counts, opts);
  }

  /**
   * The root's items, one per rank: a plain array of `size` items, or a typed array split into
   * `size` equal blocks (the root gets a copy of its block). Non-roots pass `undefined`.
   * @example const task = await comm.scatter(comm.rank === 0 ? tasks : undefined, 0);
   */
  scatter<T extends TypedArray>(data: T | undefined, root?: number, opts?: OutOptions<T>): Promise<T>;
  scatter<T>(items: T[] | undefined, root?: number, opts?: CollectiveOptions): Promise<T>;
  scatter(data: unknown, root = 0, opts?: OutOptions): Promise<unknown> {
    checkRoot(this.#calls, root, "scatter");
    return runScatter(this.#calls, data, root, opts);
  }

  /**
   * Typed blocks of different lengths from the root: `counts[i]` elements go to rank i.
   * @example const part = await comm.scatterv(comm.rank === 0 ? all : undefined, comm.rank === 0 ? counts : undefined, 0);
   */
  scatterv<T extends TypedArray>(data: T | undefined, counts: readonly number[] | undefined, root = 0, opts?: OutOptions<T>): Promise<T> {
    checkRoot(this.#calls, root, "scatterv");
    return runScatterv(this.#calls, data, counts, root, opts);
  }

  /**
   * Item i of this rank goes to rank i; returns the items addressed to this rank, indexed by
   * source. Plain arrays of `size` items, or typed arrays of `size` equal blocks (`out` may be the
   * input itself).
   * @example const mail = await comm.alltoall(outbox);
   */
  alltoall<T extends TypedArray>(data: T, opts?: OutOptions<T>): Promise<T>;
  alltoall<T>(items: T[], opts?: CollectiveOptions): Promise<T[]>;
  alltoall(data: unknown, opts?: OutOptions): Promise<unknown> {
    return runAlltoall(this.#calls, data, opts);
  }

  /**
   * Typed alltoall with per-destination counts. `recvCounts` (what each source sends here) may be
   * omitted: the ranks exchange counts first, inside the same call.
   * @example const got = await comm.alltoallv(buf, sendCounts);
   */
  alltoallv<T extends TypedArray>(data: T, sendCounts: readonly number[], recvCounts?: readonly number[], opts?: OutOptions<T>): Promise<T> {
    return runAlltoallv(this.#calls, data, sendCounts, recvCounts, opts);
  }

  /**
   * Reduces every rank's typed array with `op` (default `Op.SUM`) and gives rank i block i of the
   * result. `counts` (block sizes in elements — in `[value, index]` pairs for MINLOC/MAXLOC)
   * defaults to a balanced split, so any length works.
   * @example const shard = await comm.reduceScatter(grads, Op.SUM);
   */
  reduceScatter<T extends TypedArray>(data: T, op: Op = Op.SUM, counts?: readonly number[], opts?: OutOptions<T>): Promise<T> {
    checkOp(this.#calls, op, "reduceScatter");
    return runReduceScatter(this.#calls, data, op, counts, opts);
  }

  /**
   * Inclusive prefix reduction with `op` (default `Op.SUM`): rank i gets `data_0 ⊕ … ⊕ data_i`.
   * Typed arrays may go into `out`, the input itself included.
   * @example const offset = await comm.scan(myCount);
   */
  scan<T>(data: T, op: Op = Op.SUM, opts?: OutOptions): Promise<T> {
    checkOp(this.#calls, op, "scan");
    return runScan(this.#calls, "scan", data, op, opts) as Promise<T>;
  }

  /**
   * Exclusive prefix reduction (default `Op.SUM`): rank i gets `data_0 ⊕ … ⊕ data_(i-1)`; rank 0
   * gets undefined (its `out` is left alone).
   * @example const start = (await comm.exscan(myCount)) ?? 0;
   */
  exscan<T>(data: T, op: Op = Op.SUM, opts?: OutOptions): Promise<T | undefined> {
    checkOp(this.#calls, op, "exscan");
    return runScan(this.#calls, "exscan", data, op, opts) as Promise<T | undefined>;
  }

  // ---- non-blocking forms: the call takes its place in the sequence now, the request completes later

  /** Non-blocking {@link barrier}. */
  ibarrier(opts?: CollectiveOptions): Request<void> {
    return new Request(this.barrier(opts));
  }
  /** Non-blocking {@link bcast}. */
  ibcast<T>(data: T | undefined, root = 0, opts?: OutOptions): Request<T> {
    return new Request(this.bcast(data, root, opts));
  }
  /** Non-blocking {@link reduce}. */
  ireduce<T>(data: T, op: Op = Op.SUM, root = 0, opts?: OutOptions): Request<T | undefined> {
    return new Request(this.reduce(data, op, root, opts));
  }
  /** Non-blocking {@link allreduce}. */
  iallreduce<T>(data: T, op: Op = Op.SUM, opts?: OutOptions): Request<T> {
    return new Request(this.allreduce(data, op, opts));
  }
  /** Non-blocking {@link gather}. */
  igather<T extends TypedArray>(data: T, root?: number, opts?: OutOptions<T>): Request<T | undefined>;
  igather<T>(data: T, root?: number, opts?: CollectiveOptions): Request<T[] | undefined>;
  igather(data: unknown, root = 0, opts?: OutOptions): Request<unknown> {
    return new Request(this.gather(data, root, opts));
  }
  /** Non-blocking {@link gatherv}. */
  igatherv<T extends TypedArray>(data: T, counts?: readonly number[], root = 0, opts?: OutOptions<T>): Request<T | undefined> {
    return new Request(this.gatherv(data, counts, root, opts));
  }
  /** Non-blocking {@link allgather}. */
  iallgather<T extends TypedArray>(data: T, opts?: OutOptions<T>): Request<T>;
  iallgather<T>(data: T, opts?: CollectiveOptions): Request<T[]>;
  iallgather(data: unknown, opts?: OutOptions): Request<unknown> {
    return new Request(this.allgather(data, opts));
  }
  /** Non-blocking {@link allgatherv}. */
  iallgatherv<T extends TypedArray>(data: T, counts?: readonly number[], opts?: OutOptions<T>): Request<T> {
    return new Request(this.allgatherv(data, counts, opts));
  }
  /** Non-blocking {@link scatter}. */
  iscatter<T extends TypedArray>(data: T | undefined, root?: number, opts?: OutOptions<T>): Request<T>;
  iscatter<T>(items: T[] | undefined, root?: number, opts?: CollectiveOptions): Request<T>;
  iscatter(data: unknown, root = 0, opts?: OutOptions): Request<unknown> {
    return new Request(this.scatter(data as unknown[] | undefined, root, opts));
  }
  /** Non-blocking {@link scatterv}. */
  iscatterv<T extends TypedArray>(data: T | undefined, counts: readonly number[] | undefined, root = 0, opts?: OutOptions<T>): Request<T> {
    return new Request(this.scatterv(data, counts, root, opts));
  }
  /** Non-blocking {@link alltoall}. */
  ialltoall<T extends TypedArray>(data: T, opts?: OutOptions<T>): Request<T>;
  ialltoall<T>(items: T[], opts?: CollectiveOptions): Request<T[]>;
  ialltoall(data: unknown, opts?: OutOptions): Request<unknown> {
    return new Request(this.alltoall(data as unknown[], opts));
  }
  /** Non-blocking {@link alltoallv}. */
  ialltoallv<T extends TypedArray>(data: T, sendCounts: readonly number[], recvCounts?: readonly number[], opts?: OutOptions<T>): Request<T> {
    return new Request(this.alltoallv(data, sendCounts, recvCounts, opts));
  }
  /** Non-blocking {@link reduceScatter}. */
  ireduceScatter<T extends TypedArray>(data: T, op: Op = Op.SUM, counts?: readonly number[], opts?: OutOptions<T>): Request<T> {
    return new Request(this.reduceScatter(data, op, counts, opts));
  }
  /** Non-blocking {@link scan}. */
  iscan<T>(data: T, op: Op = Op.SUM, opts?: OutOptions): Request<T> {
    return new Request(this.scan(data, op, opts));
  }
  /** Non-blocking {@link exscan}. */
  iexscan<T>(data: T, op: Op = Op.SUM, opts?: OutOptions): Request<T | undefined> {
    return new Request(this.exscan(data, op, opts));
  }
}
