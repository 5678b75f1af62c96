/**
 * The rank's compute pool: worker_threads sharing one WebAssembly.Memory and one compiled
 * kernels module, for parallel kernels and for user work referenced by module URL.
 *
 * Why not piscina or tinypool: both fit the shared memory (it can travel in workerData), but
 * (1) they always start workers from their own entry file, which then `import()`s ours, so our
 *     TypeScript worker cannot be bootstrapped under vitest/tsx (Node 20 ignores `--import` in a
 *     Worker's execArgv; we need an eval'd bootstrap that registers tsx first — spawn-worker.ts);
 * (2) parallel GEMM wants one workspace per worker in the shared memory, which we assign to a
 *     worker slot once and reuse; a generic queue hides which worker runs a task;
 * (3) piscina 5 pulls a native optional dependency (@napi-rs/nice) we would not use.
 * What we need from a pool is ~300 lines: a FIFO queue, one task per worker at a time,
 * respawn on exit, errors carried back with their stack, ref/unref so an idle pool never keeps
 * the process alive, and close().
 */
import type { Worker } from "node:worker_threads";
import { extname, isAbsolute, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { UsageError, ZmpiError } from "../errors.js";
import { kernels } from "./backend.js";
import { gemm as gemmSync, reduce as reduceSync, dot as dotSync, axpy as axpySync, scale as scaleSync } from "./blas.js";
import { computeMemory, type ComputeMemory, type InstanceOf, type TypedArrayConstructor } from "./memory.js";
import { resolvePoolSize, type PoolSizeOptions } from "./pool-size.js";
import type { FromWorker, KernelTask, ToWorker, WireError } from "./protocol.js";
import { reduceInto as reduceIntoSync } from "./reduce-into.js";
import { spawnWorker } from "./spawn-worker.js";
import type { BackendName, Dtype, FloatArray, FoldOp, GemmOptions, KernelArray, ReduceOp, ReducibleArray } from "./types.js";
import { checkFloat, checkFloatPair, checkFold, checkGemm, checkReduce, isKernelArray, partiallyOverlaps } from "./validate.js";
import { loadKernelModule } from "./wasm-loader.js";
import { isMainModule, moveTaskAdvice } from "./main-module.js";
import type { ChunkTask } from "./chunk-runner.js";
import { WasmKernels } from "./wasm-kernels.js";
import type { WasmModule } from "./wasm-api.js";

/** Options of {@link createPool}. */
export type PoolOptions = PoolSizeOptions;

/** Options of {@link ComputePool.map}. */
export interface MapOptions {
  /**
   * Items per worker message (default 1). Larger chunks cut the per-task dispatch cost (tens of
   * µs) when items are cheap; smaller ones balance uneven items better. The last chunk may be short.
   */
  chunkSize?: number;
  /** Results in item order (default true); false: in the order chunks finished. */
  ordered?: boolean;
}

/** The chunk runner next to this module (.ts under tsx, .js once built). */
const CHUNK_RUNNER = new URL(`./chunk-runner${extname(fileURLToPath(import.meta.url))}`, import.meta.url).href;

/** A pool worker died (process.exit, an uncaught error in async user code…) while running a task. */
export class WorkerExitedError extends ZmpiError {}

/** Element-wise ops on fewer elements than this run on the calling thread (dispatch costs ~50–100 µs). */
const PARALLEL_MIN_ELEMENTS = 1 << 18;
/** GEMMs with fewer multiply-adds than this run on the calling thread. */
const PARALLEL_MIN_GEMM = 1 << 18;

interface Task {
  id: number;
  msg: ToWorker;
  desc: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Slot {
  index: number;
  worker: Worker | null;
  ready: boolean;
  task: Task | null;
  lastError: Error | null;
  startFailures: number;
  workspace: number;
}

const ERROR_TYPES: Record<string, ErrorConstructor> = { TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };

/** Rebuild a worker's error in this thread, keeping its type name, message and stack. */
function revive(e: WireError): Error {
  const err = new (ERROR_TYPES[e.name] ?? Error)(e.message);
  if (err.name !== e.name) err.name = e.name;
  err.stack = e.stack ?? `${e.name}: ${e.message}`;
  return err;
}

function dtypeOf(x: KernelArray): Dtype {
  return x instanceof Float64Array ? "f64" : x instanceof Float32Array ? "f32" : "i32";
}

/** The module URL of a user call, checked: never the main script (it would run again in the worker). */
function checkCall(op: string, moduleUrl: string | URL, exportName: string): string {
  const url = moduleHref(moduleUrl);
  if (typeof exportName !== "string" || exportName === "") throw new UsageError("exportName must be a non-empty string", { op });
  if (isMainModule(url)) throw new UsageError(`${moveTaskAdvice(url, exportName)}; a worker thread that imports the main script runs the whole program again`, { op });
  return url;
}

/** Module URL for a worker's import(): URLs as they are, paths made absolute (relative to cwd). */
function moduleHref(m: string | URL): string {
  if (m instanceof URL) return m.href;
  if (typeof m !== "string" || m === "") throw new UsageError("moduleUrl must be a URL or a path", { op: "pool.run" });
  if (/^[a-z][a-z0-9+.-]*:/i.test(m) && !/^[a-z]:[\\/]/i.test(m)) return m; // file:, data:, node: …
  if (isAbsolute(m) || m.startsWith(".")) return pathToFileURL(resolve(m)).href;
  return m; // a bare package specifier, resolved by the worker
}

/**
 * A pool of worker threads sharing the rank's compute memory. Create with {@link createPool}
 * (the world exposes one per rank as `world.pool()`).
 */
export class ComputePool {
  /** Number of workers. */
  readonly size: number;
  /** Kernel backend the workers run (`"wasm-simd"` or `"js"`). */
  readonly backend: BackendName;
  private readonly mem: ComputeMemory;
  private readonly module: WasmModule | null;
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private readonly outstanding = new Set<Promise<unknown>>();
  private readyWaiters: Array<() => void> = [];
  private nextId = 1;
  private started = false;
  private closed = false;
  private closing: Promise<void> | null = null;

  /** Prefer {@link createPool}. */
  constructor(options: PoolOptions = {}) {
    this.size = resolvePoolSize(options);
    const k = kernels();
    this.backend = k.name;
    this.module = k.name === "wasm-simd" ? loadKernelModule().module : null;
    this.mem = computeMemory();
    const wsBytes = k.backend instanceof WasmKernels ? k.backend.gemmWorkspaceBytes : 0;
    for (let i = 0; i < this.size; i++) {
      const slot: Slot = { index: i, worker: null, ready: false, task: null, lastError: null, startFailures: 0, workspace: wsBytes > 0 ? this.mem.alloc(wsBytes) : 0 };
      this.slots.push(slot);
    }
    // Workers start with the first task (or ready()): reading `size`, allocating, or a pool that
    // only ever runs small kernels on the calling thread costs no threads.
  }

  /** True once the worker threads have been started (by the first task or {@link ready}). */
  get isStarted(): boolean {
    return this.started;
  }

  /**
   * Starts the workers if they are not running and resolves once every one has started
   * (instantiated the kernels). Work can be submitted before that — it queues — so this is only
   * useful to keep start-up out of a measurement.
   */
  ready(): Promise<void> {
    this.assertOpen("pool.ready");
    this.start();
    if (this.slots.every((s) => s.ready)) return Promise.resolve();
    const p = new Promise<void>((resolve) => this.readyWaiters.push(resolve));
    this.updateRefs(); // someone is waiting: keep the process alive until the workers are up
    return p;
  }

  /** True once {@link close} (or {@link terminate}) was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  // ---- memory ------------------------------------------------------------------------------

  /**
   * A zeroed typed array of `length` elements in the shared compute memory. Kernels (pool or
   * module-level, including reduceInto) use such arrays in place, with no copy. Free with {@link free}.
   */
  alloc<C extends TypedArrayConstructor>(ctor: C, length: number): InstanceOf<C> {
    if (!Number.isSafeInteger(length) || length < 0) throw new UsageError(`length must be a non-negative integer, got ${length}`, { op: "pool.alloc" });
    return this.mem.allocArray(ctor, length);
  }

  /** Give back an array from {@link alloc}. Using it afterwards reads memory that may be reused. */
  free(view: ArrayBufferView): void {
    this.mem.freeArray(view);
  }

  /** True when `view` lives in the shared compute memory. */
  owns(view: ArrayBufferView): boolean {
    return this.mem.contains(view);
  }

  // ---- user work ---------------------------------------------------------------------------

  /**
   * Run `exportName` of the module at `moduleUrl` (a URL, `file:` URL or path; relative paths
   * resolve against the cwd, so prefer `new URL("./x.js", import.meta.url)`) in a worker, with
   * `arg` (structured-cloned). Resolves with its (awaited) return value; rejects with the
   * function's error, stack included. The module is imported once per worker and cached.
   */
  run<R = unknown>(moduleUrl: string | URL, exportName: string, arg?: unknown): Promise<R> {
    const url = checkCall("pool.run", moduleUrl, exportName);
    return this.submit({ t: "call", id: 0, url, name: exportName, arg }, `${exportName} from ${url}`) as Promise<R>;
  }

  /**
   * {@link run} once per item, in parallel across workers, `chunkSize` items per worker message;
   * results in item order (or completion order with `ordered: false`). Rejects with the first error.
   *
   * ```ts
   * const lp = await pool.map(new URL("./model.js", import.meta.url), "logProb", walkers, { chunkSize: 8 });
   * ```
   */
  map<T, R = unknown>(moduleUrl: string | URL, exportName: string, items: readonly T[], opts: MapOptions = {}): Promise<R[]> {
    const url = checkCall("pool.map", moduleUrl, exportName);
    if (!Array.isArray(items)) throw new UsageError("items must be an array", { op: "pool.map" });
    const chunkSize = opts.chunkSize ?? 1;
    if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new UsageError(`chunkSize must be a positive integer, got ${String(opts.chunkSize)}`, { op: "pool.map" });
    const ordered = opts.ordered ?? true;
    if (typeof ordered !== "boolean") throw new UsageError(`ordered must be a boolean, got ${String(ordered)}`, { op: "pool.map" });
    if (chunkSize === 1 && ordered)
      return Promise.all(items.map((item) => this.submit({ t: "call", id: 0, url, name: exportName, arg: item }, `${exportName} from ${url}`) as Promise<R>));
    const finished: R[] = [];
    const chunks: Promise<R[]>[] = [];
    for (let o = 0; o < items.length; o += chunkSize) {
      const arg: ChunkTask = { url, name: exportName, items: items.slice(o, o + chunkSize) };
      const p = this.submit({ t: "call", id: 0, url: CHUNK_RUNNER, name: "runChunk", arg }, `${exportName} from ${url} (items ${o}..${o + arg.items.length - 1})`) as Promise<R[]>;
      chunks.push(
        ordered
          ? p
          : p.then((rs) => {
              finished.push(...rs);
              return rs;
            }),
      );
    }
    return Promise.all(chunks).then((parts) => (ordered ? parts.flat() : finished));
  }

  // ---- parallel kernels --------------------------------------------------------------------

  /**
   * `dst[i] = op(dst[i], src[i])` split across the workers when both arrays live in the compute
   * memory ({@link alloc}) and are large; otherwise done on this thread (copying would cost more
   * than the split gains). Same semantics and identical results as {@link reduceInto}.
   */
  async reduceInto(op: ReduceOp, dst: ReducibleArray, src: ReducibleArray): Promise<void> {
    checkReduce("pool.reduceInto", op, dst, src);
    if (!isKernelArray(dst) || !this.parallelizable(dst, src) || partiallyOverlaps(dst, src)) {
      reduceIntoSync(op, dst, src);
      return;
    }
    const es = dst.BYTES_PER_ELEMENT;
    const dtype = dtypeOf(dst);
    await Promise.all(this.ranges(dst.length, 16).map(([o, n]) => this.kernel({ kind: "reduce", op, dtype, d: dst.byteOffset + o * es, s: src.byteOffset + o * es, n })));
  }

  /** `y += alpha·x`, split across workers like {@link reduceInto}. */
  async axpy(alpha: number, x: FloatArray, y: FloatArray): Promise<void> {
    checkFloatPair("pool.axpy", x, y);
    if (!this.parallelizable(y, x) || partiallyOverlaps(x, y)) {
      axpySync(alpha, x, y);
      return;
    }
    const es = y.BYTES_PER_ELEMENT;
    const dtype = dtypeOf(y) as "f64" | "f32";
    await Promise.all(this.ranges(y.length, 16).map(([o, n]) => this.kernel({ kind: "axpy", dtype, alpha, x: x.byteOffset + o * es, y: y.byteOffset + o * es, n })));
  }

  /** `x *= alpha`, split across workers like {@link reduceInto}. */
  async scale(alpha: number, x: FloatArray): Promise<void> {
    checkFloat("pool.scale", x);
    if (!this.parallelizable(x, x)) {
      scaleSync(alpha, x);
      return;
    }
    const es = x.BYTES_PER_ELEMENT;
    const dtype = dtypeOf(x) as "f64" | "f32";
    await Promise.all(this.ranges(x.length, 16).map(([o, n]) => this.kernel({ kind: "scale", dtype, alpha, x: x.byteOffset + o * es, n })));
  }

  /**
   * Fold `x` to one value across workers: each folds a contiguous slice, the partials combine in
   * slice order. min/max equal the single-thread result; float sum/prod may differ from it in the
   * last bits (another summation order), and Int32 sums are exact while below 2^53.
   */
  async reduce(op: FoldOp, x: KernelArray): Promise<number> {
    checkFold("pool.reduce", op, x);
    if (!this.parallelizable(x, x)) return reduceSync(op, x);
    const es = x.BYTES_PER_ELEMENT;
    const dtype = dtypeOf(x);
    const parts = (await Promise.all(this.ranges(x.length, 16).map(([o, n]) => this.kernel({ kind: "fold", op, dtype, p: x.byteOffset + o * es, n })))) as number[];
    return combinePartials(op, dtype, parts);
  }

  /** Σ x[i], see {@link reduce}. */
  sum(x: KernelArray): Promise<number> {
    return this.reduce("sum", x);
  }

  /** Σ x[i]·y[i] across workers (partials combine in slice order). */
  async dot(x: FloatArray, y: FloatArray): Promise<number> {
    checkFloatPair("pool.dot", x, y);
    if (!this.parallelizable(x, y)) return dotSync(x, y);
    const es = x.BYTES_PER_ELEMENT;
    const dtype = dtypeOf(x) as "f64" | "f32";
    const parts = (await Promise.all(
      this.ranges(x.length, 16).map(([o, n]) => this.kernel({ kind: "dot", dtype, x: x.byteOffset + o * es, y: y.byteOffset + o * es, n })),
    )) as number[];
    return combinePartials("sum", dtype, parts);
  }

  /**
   * GEMM `C = alpha·A·B + beta·C` (row-major; A m×k, B k×n) with rows of C split across the
   * workers. Inputs outside the compute memory are copied in (to a region freed afterwards);
   * the result goes to `opts.out` or a new array. Bit-identical to the single-thread {@link gemm}.
   */
  async gemm<T extends FloatArray>(a: T, b: T, m: number, n: number, k: number, opts: GemmOptions<T> = {}): Promise<T> {
    const { alpha, beta } = checkGemm("pool.gemm", a, b, m, n, k, opts);
    this.assertOpen("pool.gemm");
    if (m * n * k < PARALLEL_MIN_GEMM) return gemmSync(a, b, m, n, k, opts);
    const ctor = a.constructor as TypedArrayConstructor<T> & (new (len: number) => T);
    const viewOf = (ptr: number, len: number): T => new ctor(this.mem.buffer, ptr, len);
    const out = opts.out ?? new ctor(m * n);
    const temps: number[] = [];
    const place = (x: T, copy: boolean): T => {
      if (this.mem.contains(x)) return x;
      const ptr = this.mem.alloc(x.byteLength);
      temps.push(ptr);
      const v = viewOf(ptr, x.length);
      if (copy) v.set(x);
      return v;
    };
    try {
      const A = place(a, true);
      const B = place(b, true);
      const C = place(out, beta !== 0);
      const es = a.BYTES_PER_ELEMENT;
      const dtype = dtypeOf(a) as "f64" | "f32";
      await Promise.all(
        this.ranges(m, 4).map(([i0, rows]) =>
          this.kernel({ kind: "gemm", dtype, m: rows, n, k, alpha, a: A.byteOffset + i0 * k * es, b: B.byteOffset, beta, c: C.byteOffset + i0 * n * es }),
        ),
      );
      if (C !== out) out.set(C);
      return out;
    } finally {
      for (const p of temps) this.mem.release(p);
    }
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /**
   * Stop accepting work, let queued and running tasks finish, then stop the workers. Afterwards
   * nothing of the pool keeps the process alive. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = (async () => {
      await Promise.allSettled([...this.outstanding]);
      await this.stopWorkers();
    })();
    return this.closing;
  }

  /** Stop the workers now; queued and running tasks reject. */
  terminate(): Promise<void> {
    this.closed = true;
    const err = new UsageError("the pool was terminated", { op: "pool" });
    for (const t of this.queue.splice(0)) t.reject(err);
    for (const s of this.slots)
      if (s.task) {
        s.task.reject(err);
        s.task = null;
      }
    this.closing ??= this.stopWorkers();
    return this.closing;
  }

  private async stopWorkers(): Promise<void> {
    const ws = this.slots.map((s) => s.worker).filter((w): w is Worker => w !== null);
    for (const s of this.slots) s.worker = null;
    await Promise.all(ws.map((w) => w.terminate()));
    for (const s of this.slots)
      if (s.workspace) {
        this.mem.release(s.workspace);
        s.workspace = 0;
      }
  }

  // ---- internals ---------------------------------------------------------------------------

  private assertOpen(op: string): void {
    if (this.closed) throw new UsageError("the pool is closed", { op });
  }

  /** Both arrays in the compute memory and large enough to be worth a split. */
  private parallelizable(a: ArrayBufferView & { length: number }, b: ArrayBufferView): boolean {
    this.assertOpen("pool");
    return a.length >= PARALLEL_MIN_ELEMENTS && this.mem.contains(a) && this.mem.contains(b);
  }

  /** Split [0, n) into up to `size` contiguous ranges whose starts are multiples of `align`. */
  private ranges(n: number, align: number): Array<[number, number]> {
    const parts = Math.max(1, Math.min(this.size, Math.ceil(n / align)));
    const per = Math.ceil(n / parts / align) * align;
    const out: Array<[number, number]> = [];
    for (let o = 0; o < n; o += per) out.push([o, Math.min(per, n - o)]);
    if (out.length === 0) out.push([0, 0]);
    return out;
  }

  private kernel(task: KernelTask): Promise<unknown> {
    return this.submit({ t: "kernel", id: 0, task }, `kernel ${task.kind}`);
  }

  /** Starts every worker slot that has no worker (first use, or after repeated start failures). */
  private start(): void {
    this.started = true;
    for (const s of this.slots) if (s.worker === null && !this.closed) this.spawn(s);
    this.updateRefs();
  }

  private submit(msg: ToWorker, desc: string): Promise<unknown> {
    this.assertOpen(msg.t === "call" ? "pool.run" : "pool");
    const id = this.nextId++;
    msg.id = id;
    const p = new Promise<unknown>((resolve, reject) => {
      this.queue.push({ id, msg, desc, resolve, reject });
    });
    const tracked = p.then(
      () => undefined,
      () => undefined,
    );
    this.outstanding.add(tracked);
    void tracked.then(() => this.outstanding.delete(tracked));
    this.start();
    this.dispatch();
    return p;
  }

  private dispatch(): void {
    for (const s of this.slots) {
      if (this.queue.length === 0) break;
      if (s.worker && s.ready && s.task === null) {
        const t = this.queue.shift()!;
        s.task = t;
        s.worker.postMessage(t.msg);
      }
    }
    this.updateRefs();
  }

  /** Workers keep the process alive only while there is work; an idle pool never blocks exit. */
  private updateRefs(): void {
    const busy = this.queue.length > 0 || this.readyWaiters.length > 0 || this.slots.some((s) => s.task !== null);
    for (const s of this.slots) {
      if (!s.worker) continue;
      if (busy) s.worker.ref();
      else s.worker.unref();
    }
  }

  private spawn(slot: Slot): void {
    const w = spawnWorker({ module: this.module, memory: this.mem.memory, workspace: slot.workspace, index: slot.index });
    slot.worker = w;
    slot.ready = false;
    slot.lastError = null;
    w.on("message", (m: FromWorker) => this.onMessage(slot, w, m));
    w.on("error", (e: Error) => {
      if (slot.worker === w) slot.lastError = e;
    });
    w.on("exit", (code: number) => this.onExit(slot, w, code));
  }

  private onMessage(slot: Slot, w: Worker, m: FromWorker): void {
    if (slot.worker !== w) return;
    if (m.t === "ready") {
      slot.ready = true;
      slot.startFailures = 0;
      if (this.slots.every((x) => x.ready)) for (const w of this.readyWaiters.splice(0)) w();
      this.dispatch();
      return;
    }
    const t = slot.task;
    if (!t || t.id !== m.id) return;
    slot.task = null;
    if (m.t === "ok") t.resolve(m.value);
    else t.reject(revive(m.error));
    this.dispatch();
  }

  private onExit(slot: Slot, w: Worker, code: number): void {
    if (slot.worker !== w) return; // terminated on purpose, or already replaced
    const wasReady = slot.ready;
    const cause = slot.lastError;
    slot.worker = null;
    slot.ready = false;
    const t = slot.task;
    slot.task = null;
    const detail = cause ? `: ${cause.name}: ${cause.message}` : "";
    if (t) {
      t.reject(new WorkerExitedError(`pool worker ${slot.index} exited with code ${code} while running ${t.desc}${detail}`, { op: "pool" }));
    }
    if (this.closed) return;
    if (!wasReady && ++slot.startFailures >= 3) {
      // Workers die on start (bad install, missing file): fail queued work instead of looping.
      const err = new WorkerExitedError(`pool worker ${slot.index} failed to start 3 times (exit code ${code})${detail}`, { op: "pool" });
      if (this.slots.every((s) => s.worker === null || !s.ready)) for (const q of this.queue.splice(0)) q.reject(err);
      slot.startFailures = 0;
      this.updateRefs();
      return;
    }
    this.spawn(slot);
    this.dispatch();
  }
}

function combinePartials(op: FoldOp, dtype: Dtype, parts: number[]): number {
  const f32 = dtype === "f32";
  let r = parts[0]!;
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i]!;
    if (op === "sum") r = r + p;
    else if (op === "prod") r = dtype === "i32" ? Math.imul(r, p) : r * p;
    else if (op === "min") r = Math.min(r, p);
    else r = Math.max(r, p);
    if (f32) r = Math.fround(r);
  }
  return r;
}

/**
 * Create a compute pool. Size: `options.size`, else `cpusPerTask` / `SLURM_CPUS_PER_TASK`,
 * else max(1, floor(os.availableParallelism() / ranksOnNode)). Workers start immediately and
 * share the calling thread's compute memory and compiled kernels. Call {@link ComputePool.close}
 * when done (an idle pool does not keep the process alive either way).
 */
export function createPool(options: PoolOptions = {}): ComputePool {
  return new ComputePool(options);
}
