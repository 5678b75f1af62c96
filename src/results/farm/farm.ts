/**
 * `await world.farm()`: a master/worker task farm across ranks, like schwimmbad's MPIPool with
 * Parsl-style futures. Rank 0 submits tasks by module URL and export name; the other ranks (and
 * rank 0 when `masterRuns`) pull tasks one at a time, so uneven tasks balance. `after` makes a DAG.
 *
 * ```ts
 * const farm = await world.farm();              // collective
 * if (farm.isMaster) {
 *   const t = farm.submit(new URL("./tasks.js", import.meta.url), "build", [1], { name: "target-1" });
 *   const s = farm.submit(new URL("./tasks.js", import.meta.url), "sample", [7], { after: [t] });
 *   console.log(await s);
 * }
 * await farm.close();                           // collective: workers serve until rank 0 is done
 * ```
 */
import { pathToFileURL } from "node:url";
import { isAbsolute } from "node:path";
import { UsageError } from "../../errors.js";
import { isMainModule, moveTaskAdvice } from "../../compute/main-module.js";
import type { Communicator } from "../../groups/communicator.js";
import { createProgress, type ProgressMode } from "../progress.js";
import type { TaskFuture } from "./future.js";
import { Master, type FarmSummary, type ResultsSink, type SubmitOptions } from "./master.js";
import { workerLoop } from "./worker.js";

/** Options of `world.farm()`. The same on every rank except where noted. */
export interface FarmOptions {
  /** Directory of the per-task logs `<name>.log` / `<name>.err`, written by rank 0. Default `logs`. */
  logDir?: string;
  /** Rank 0 also runs tasks when it has nothing else to do. Default: only when the world has 1 rank. */
  masterRuns?: boolean;
  /** Progress on rank 0: `auto` (bar on a terminal, lines otherwise), `bar`, `lines`, `none`. Default `auto`. */
  progress?: ProgressMode;
  /** Default extra attempts of a failed task. Default 0. */
  retries?: number;
  /** Deadline of the farm's waits, ms (a worker waiting for work, rank 0 waiting for a running task). Default `ZMPI_TIMEOUT`. */
  timeoutMs?: number;
  /** Rank 0: append each successful result to this table (`world.results()`), with `task` and `worker` columns. */
  results?: ResultsSink;
}

function moduleUrl(m: string | URL): string {
  if (m instanceof URL) return m.href;
  if (isAbsolute(m)) return pathToFileURL(m).href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(m)) return m;
  // A bare or relative specifier would resolve against zmpi's own files on the worker: refuse it.
  throw new UsageError(`task module "${m}" must be a URL (e.g. new URL("./tasks.js", import.meta.url)) or an absolute path`, { op: "farm.submit" });
}

/** A task farm over a communicator. Made by `world.farm()`; every rank must call {@link close}. */
export class Farm {
  private readonly master: Master | null;
  private readonly worker: Promise<number> | null;
  private closing: Promise<FarmSummary | null> | null = null;

  /** @internal use `world.farm()` */
  constructor(
    private readonly comm: Communicator,
    opts: FarmOptions = {},
  ) {
    if (comm.rank === 0) {
      this.master = new Master(comm, {
        logDir: opts.logDir ?? "logs",
        masterRuns: opts.masterRuns ?? comm.size === 1,
        retries: opts.retries ?? 0,
        timeoutMs: opts.timeoutMs,
        progress: createProgress(opts.progress ?? "auto"),
        results: opts.results,
      });
      this.worker = null;
    } else {
      this.master = null;
      // Workers start serving at once; close() waits for the loop to end.
      this.worker = workerLoop(comm, opts.timeoutMs);
      this.worker.catch(() => {});
    }
  }

  /** True on rank 0, the rank that submits. */
  get isMaster(): boolean {
    return this.master !== null;
  }

  /** This rank in the farm's communicator (the world's numbering). */
  get rank(): number {
    return this.comm.rank;
  }

  private need(op: string): Master {
    if (!this.master) throw new UsageError(`${op} is for rank 0 (the farm's master); rank ${this.comm.rank} serves tasks inside close()`, { op });
    return this.master;
  }

  /**
   * Rank 0: submits `moduleUrl`'s export `exportName`, called as `fn(...args, ctx)` on some rank once
   * every `after` task is done (their results in `ctx.inputs`). Args and results travel as msgpack.
   */
  submit<T = unknown>(moduleUrl_: string | URL, exportName: string, args: readonly unknown[] = [], opts: SubmitOptions = {}): TaskFuture<T> {
    const m = this.need("farm.submit");
    if (typeof exportName !== "string" || exportName === "") throw new UsageError("submit needs the name of an exported function", { op: "farm.submit" });
    if (!Array.isArray(args)) throw new UsageError("submit's args must be an array", { op: "farm.submit" });
    const url = moduleUrl(moduleUrl_);
    // A worker rank importing its own main script would wait for that script to finish, which
    // it does not while it serves tasks: refuse it here, before anything is sent.
    if (isMainModule(url))
      throw new UsageError(`${moveTaskAdvice(url, exportName)}; a worker rank importing its own main script would wait forever for it to finish`, { op: "farm.submit" });
    return m.submit<T>(url, exportName, [...args], opts, this);
  }

  /** Rank 0: one task per item (`fn(item, ctx)`), results in item order. Rejects at the first failure. */
  map<T = unknown>(moduleUrl_: string | URL, exportName: string, items: readonly unknown[], opts: Omit<SubmitOptions, "name"> & { name?: string } = {}): Promise<T[]> {
    const futures = items.map((item, i) => this.submit<T>(moduleUrl_, exportName, [item], { ...opts, name: opts.name ? `${opts.name}-${i}` : undefined }));
    return Promise.all(futures);
  }

  /**
   * Collective. On rank 0: waits for every submitted task to settle, stops the workers, returns a
   * summary. On other ranks: serves tasks until rank 0 says stop, then resolves with null.
   */
  close(): Promise<FarmSummary | null> {
    if (!this.closing) {
      const done = this.master ? this.master.close() : this.worker!.then(() => null);
      // The farm's private communicator goes with it: a farm per phase must not pile up contexts.
      this.closing = done.finally(() => this.comm.free());
    }
    return this.closing;
  }
}
