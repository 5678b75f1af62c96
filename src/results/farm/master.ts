/**
 * Rank 0's scheduler: holds the task graph, hands ready tasks to whichever worker asks next (so
 * uneven tasks balance by themselves), runs tasks itself when allowed and idle, retries failures,
 * fails the dependents of a failed task, writes each task's logs, and turns a dead worker rank
 * into an error that names the task it was running.
 */
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { RankFailedError, TimeoutError, UsageError, ZmpiError } from "../../errors.js";
import type { Communicator } from "../../groups/communicator.js";
import type { Progress } from "../progress.js";
import type { Row } from "../schema.js";
import { TaskDependencyError, TaskError, type TaskErrorInfo } from "./errors.js";
import { TaskFuture } from "./future.js";
import { TAG_TO_MASTER, TAG_TO_WORKER, type DoneMsg, type TaskMsg, type ToMaster, type ToWorker } from "./protocol.js";
import { runTask } from "./run-task.js";

/** Where successful task results can go (a `world.results()` table, on rank 0). */
export interface ResultsSink {
  append(row: Row): void;
}

/** Options of one submitted task. */
export interface SubmitOptions {
  /** Tasks that must finish first (any result type); their results arrive in the context's `inputs`, in this order. */
  after?: readonly TaskFuture<unknown>[];
  /** Extra attempts after a failure (default: the farm's `retries`, else 0). */
  retries?: number;
  /**
   * Name, also of the log files `<logDir>/<name>.log|.err`. Default `<export>-<id>`. Must be unique.
   * `/` makes subdirectories: `"build_target/3"` logs to `<logDir>/build_target/3.log`.
   */
  name?: string;
  /** Put the task's result in the farm's results table (default true); false keeps it out (e.g. a build step's output). */
  record?: boolean;
  /**
   * Deadline of each attempt, ms (default: the farm's `timeoutMs`, else `ZMPI_TIMEOUT`). An attempt
   * still running then fails the job with a `TimeoutError` naming the task and its rank.
   */
  timeoutMs?: number;
}

/** Settings the scheduler needs. */
interface MasterSettings {
  logDir: string;
  masterRuns: boolean;
  retries: number;
  timeoutMs: number | undefined;
  progress: Progress;
  results: ResultsSink | undefined;
}

/** What a farm did, from rank 0's point of view. */
export interface FarmSummary {
  /** Tasks submitted, completed, failed. */
  submitted: number;
  completed: number;
  failed: number;
  /** Attempts run by each rank (index = rank). */
  attemptsByRank: number[];
}

type TaskState = "waiting" | "ready" | "running" | "done" | "failed";

interface Task {
  id: number;
  name: string;
  url: string;
  exp: string;
  args: unknown[];
  after: Task[];
  retries: number;
  attempt: number;
  unmet: number;
  state: TaskState;
  rank: number;
  /** Deadline of each attempt, ms. */
  timeoutMs: number;
  /** When the running attempt started (performance.now()). */
  startedAt: number;
  value: unknown;
  future: TaskFuture;
  dependents: Task[];
  record: boolean;
}

/** The scheduler. */
export class Master {
  private readonly tasks = new Map<number, Task>();
  private readonly names = new Set<string>();
  private readonly ready: Task[] = [];
  private readonly idle: number[] = [];
  private readonly running = new Map<number, Task>();
  private outstanding = 0;
  private completed = 0;
  private failedCount = 0;
  private readonly attempts: number[];
  private stopping = false;
  private stopped = 0;
  private fatal: Error | null = null;
  private settledWaiters: Array<() => void> = [];
  private readonly loop: Promise<void>;
  private readonly logDir: string;
  private watchdog: NodeJS.Timeout | null = null;

  constructor(
    private readonly comm: Communicator,
    private readonly s: MasterSettings,
  ) {
    this.logDir = resolve(s.logDir);
    this.attempts = new Array<number>(comm.size).fill(0);
    comm.engine.onFailure((err) => this.onJobFailure(err));
    this.loop = comm.size > 1 ? this.receiveLoop() : Promise.resolve();
    this.loop.catch(() => {});
  }

  private logPaths(name: string): { logPath: string; errPath: string } {
    return { logPath: join(this.logDir, `${name}.log`), errPath: join(this.logDir, `${name}.err`) };
  }

  private info(t: Task): TaskErrorInfo {
    return { task: t.name, rank: t.rank, attempt: t.attempt, ...this.logPaths(t.name) };
  }

  /** Adds a task; see `Farm.submit`. */
  submit<T>(url: string, exp: string, args: unknown[], opts: SubmitOptions, owner: object): TaskFuture<T> {
    if (this.fatal) throw this.fatal;
    if (this.stopping) throw new UsageError("the farm is closing: submit before close()", { op: "farm.submit" });
    const id = this.tasks.size;
    const name = opts.name ?? `${exp}-${id}`;
    if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(name) || name.split("/").some((s) => s === "." || s === "..")) {
      throw new UsageError(
        `task name "${name}" must be letters, digits, '.', '_' or '-', with '/' between subdirectories (no leading '/', empty, '.' or '..' parts): it names the log files`,
        { op: "farm.submit" },
      );
    }
    if (this.names.has(name)) throw new UsageError(`a task named "${name}" was already submitted`, { op: "farm.submit" });
    const after: Task[] = [];
    for (const f of opts.after ?? []) {
      const dep = f instanceof TaskFuture && f.owner === owner ? this.tasks.get(f.id) : undefined;
      if (!dep) throw new UsageError(`task "${name}": every entry of "after" must be a future from this farm's submit()`, { op: "farm.submit" });
      after.push(dep);
    }
    const retries = opts.retries ?? this.s.retries;
    if (!Number.isInteger(retries) || retries < 0) throw new UsageError(`retries must be a non-negative integer, got ${retries}`, { op: "farm.submit" });
    const timeoutMs = opts.timeoutMs ?? this.s.timeoutMs ?? this.comm.engine.config.timeoutMs;
    if (typeof timeoutMs !== "number" || !(timeoutMs > 0))
      throw new UsageError(`task "${name}": timeoutMs must be a positive number of ms, got ${String(timeoutMs)}`, { op: "farm.submit" });
    const future = new TaskFuture<T>(id, name, owner);
    const t: Task = {
      id,
      name,
      url,
      exp,
      args,
      after,
      retries,
      attempt: 0,
      unmet: 0,
      state: "waiting",
      rank: -1,
      timeoutMs,
      startedAt: 0,
      value: undefined,
      future: future as TaskFuture,
      dependents: [],
      record: opts.record !== false,
    };
    this.tasks.set(id, t);
    this.names.add(name);
    this.outstanding++;
    this.s.progress.total(this.tasks.size);
    const failedInput = after.find((d) => d.state === "failed");
    for (const d of after) {
      if (d.state !== "done") {
        t.unmet++;
        d.dependents.push(t);
      }
    }
    if (failedInput) this.failDependent(t, failedInput);
    else if (t.unmet === 0) this.makeReady(t);
    return future;
  }

  private makeReady(t: Task): void {
    t.state = "ready";
    this.ready.push(t);
    // Defer, so a burst of submits is dispatched together and submit() never runs a task inline.
    queueMicrotask(() => this.pump());
  }

  /** Hands ready tasks to idle workers (and to rank 0 itself when allowed); sends stops when done. */
  private pump(): void {
    if (this.fatal) return;
    while (this.ready.length > 0) {
      const w = this.idle.shift();
      if (w !== undefined) this.dispatch(this.ready.shift()!, w);
      else if ((this.s.masterRuns || this.comm.size === 1) && !this.running.has(0)) this.runLocal(this.ready.shift()!);
      else break;
    }
    if (this.stopping && this.outstanding === 0) {
      for (const w of this.idle.splice(0)) {
        this.stopped++;
        this.comm.send({ t: "stop" } satisfies ToWorker, w, { tag: TAG_TO_WORKER }).catch(() => {});
      }
      if (this.comm.size > 1 && this.stopped === this.comm.size - 1) {
        // The receive loop is parked in a recv that no worker will answer now: wake it from here.
        this.comm.send({ t: "stop" } satisfies ToMaster, 0, { tag: TAG_TO_MASTER }).catch(() => {});
      }
      if (this.comm.size === 1 || this.stopped === this.comm.size - 1) this.wake();
    }
  }

  private message(t: Task): TaskMsg {
    return { t: "task", id: t.id, name: t.name, url: t.url, exp: t.exp, args: t.args, inputs: t.after.map((d) => d.value), attempt: t.attempt };
  }

  /** Marks `t`'s next attempt as running on `rank`, under its deadline. */
  private startAttempt(t: Task, rank: number): void {
    t.attempt++;
    t.rank = rank;
    t.state = "running";
    t.startedAt = performance.now();
    this.attempts[rank]!++;
    this.running.set(rank, t);
    this.armWatchdog();
  }

  private dispatch(t: Task, rank: number): void {
    this.startAttempt(t, rank);
    this.comm.send(this.message(t), rank, { tag: TAG_TO_WORKER }).catch((e: unknown) => this.die(e));
  }

  /**
   * One timer at the earliest deadline of the running attempts. It is what notices an overdue
   * task: the receive loop's own deadline restarts with every message other workers send.
   */
  private armWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = null;
    if (this.fatal || this.running.size === 0) return;
    const due = Math.min(...[...this.running.values()].map((t) => t.startedAt + t.timeoutMs));
    this.watchdog = setTimeout(() => this.checkDeadlines(), Math.max(0, due - performance.now()) + 1);
    this.watchdog.unref();
  }

  private checkDeadlines(): void {
    this.watchdog = null;
    if (this.fatal) return;
    const now = performance.now();
    const late = [...this.running].filter(([, t]) => now >= t.startedAt + t.timeoutMs);
    if (late.length === 0) return void this.armWatchdog();
    const lines = late.map(
      ([r, t]) =>
        `task "${t.name}" on rank ${r} did not finish within its deadline of ${(t.timeoutMs / 1000).toFixed(1)} s (attempt ${t.attempt}; log: ${this.logPaths(t.name).logPath}); rank ${r} is still running it`,
    );
    process.stderr.write(lines.map((l) => `[zmpi farm] ${l}\n`).join(""));
    const err = new TimeoutError(`farm: ${lines.join("; ")}`, { comm: this.comm.name, op: "farm", ranks: late.map(([r]) => this.comm.group[r]!) });
    this.die(
      err,
      lines,
      late.map(([r]) => r),
    );
    this.comm.engine.failEverywhere(err);
  }

  private runLocal(t: Task): void {
    this.startAttempt(t, 0);
    void runTask(this.message(t), 0).then((done) => {
      if (this.fatal) return;
      this.finish(0, done);
      this.pump();
    });
  }

  private async receiveLoop(): Promise<void> {
    for (;;) {
      let got: { source: number; data: ToMaster };
      try {
        got = await this.comm.recvWithStatus<ToMaster>({ tag: TAG_TO_MASTER, timeoutMs: this.s.timeoutMs });
      } catch (e) {
        // Quiet for a while: overdue tasks are the watchdog's to report, with their names.
        if (e instanceof TimeoutError && !this.fatal) continue;
        this.die(e);
        return;
      }
      if (got.data.t === "stop") return;
      if (got.data.t === "done") this.finish(got.source, got.data);
      this.idle.push(got.source);
      this.pump();
    }
  }

  private writeLogs(t: Task, done: DoneMsg, rank: number): void {
    try {
      const { logPath, errPath } = this.logPaths(t.name);
      mkdirSync(dirname(logPath), { recursive: true });
      const head = `--- ${t.name} attempt ${done.attempt} on rank ${rank}: ${done.ok ? "ok" : "FAILED"} in ${done.ms.toFixed(0)} ms ---\n`;
      const put = done.attempt === 1 ? writeFileSync : appendFileSync;
      put(logPath, head + done.out);
      if (done.err !== "" || done.attempt > 1) put(errPath, head + done.err);
    } catch (e) {
      process.stderr.write(`[zmpi farm] cannot write the logs of task "${t.name}": ${(e as Error).message}\n`);
    }
  }

  private finish(rank: number, done: DoneMsg): void {
    const t = this.tasks.get(done.id);
    this.running.delete(rank);
    this.armWatchdog();
    if (t?.state !== "running" || t.attempt !== done.attempt) return;
    this.writeLogs(t, done, rank);
    if (done.ok) return void this.complete(t, done.value);
    const e = done.error!;
    if (t.attempt <= t.retries) {
      process.stderr.write(`[zmpi farm] task "${t.name}" failed on rank ${rank} (attempt ${t.attempt} of ${t.retries + 1}): ${e.message}; retrying\n`);
      this.makeReady(t);
      return;
    }
    const { errPath } = this.logPaths(t.name);
    const err = new TaskError(
      `task "${t.name}" failed on rank ${rank} (attempt ${t.attempt} of ${t.retries + 1}): ${e.name}: ${e.message}\n  log: ${errPath}\n  ${e.stack
        .split("\n")
        .slice(1, 4)
        .map((l) => l.trim())
        .join("\n  ")}`,
      this.info(t),
    );
    this.fail(t, err);
  }

  private complete(t: Task, value: unknown): void {
    t.state = "done";
    t.value = value;
    this.outstanding--;
    this.completed++;
    this.s.progress.settled(t.name, true, t.rank);
    this.toResults(t, value);
    t.future.resolve(value);
    for (const d of t.dependents) {
      if (d.state !== "waiting") continue;
      if (--d.unmet === 0) this.makeReady(d);
    }
    this.checkSettled();
  }

  private toResults(t: Task, value: unknown): void {
    const sink = this.s.results;
    if (!sink || !t.record) return;
    const rows = Array.isArray(value) ? value : [value];
    for (const v of rows) {
      const plain = v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date);
      sink.append(plain ? { task: t.name, worker: t.rank, ...(v as Row) } : { task: t.name, worker: t.rank, value: v });
    }
  }

  private fail(t: Task, err: TaskError): void {
    t.state = "failed";
    this.outstanding--;
    this.failedCount++;
    this.s.progress.settled(t.name, false, t.rank);
    t.future.reject(err);
    for (const d of t.dependents) if (d.state === "waiting") this.failDependent(d, t);
    this.checkSettled();
  }

  private failDependent(t: Task, input: Task): void {
    const err = new TaskDependencyError(`task "${t.name}" was not run: its input "${input.name}" failed (see ${this.logPaths(input.name).errPath})`, this.info(t), input.name);
    this.fail(t, err);
  }

  private checkSettled(): void {
    if (this.outstanding === 0) this.pump();
  }

  /**
   * The job failed elsewhere (a rank died, an operation passed its deadline, a mismatch): name the
   * tasks that were running. Only a RankFailedError is a death; anything else says what it was.
   */
  private onJobFailure(err: ZmpiError): void {
    if (this.fatal) return;
    const lines: string[] = [];
    const named: number[] = [];
    const concerned = err.ranks.map((w) => this.comm.group.indexOf(w));
    const what = err instanceof RankFailedError ? "died" : err instanceof TimeoutError ? "timed out" : `failed (${err.name})`;
    for (const [r, t] of this.running) {
      const hit = concerned.includes(r);
      if (hit || err.ranks.length === 0) {
        lines.push(`rank ${r} ${hit ? what : "was lost"} while running task "${t.name}" (attempt ${t.attempt}; log: ${this.logPaths(t.name).logPath})`);
        named.push(r);
      }
    }
    if (lines.length) process.stderr.write(lines.map((l) => `[zmpi farm] ${l}\n`).join(""));
    this.die(err, lines, named);
  }

  /** Stops the farm: `lines[i]` explains the task running on rank `named[i]`. */
  private die(e: unknown, lines: string[] = [], named: number[] = []): void {
    if (this.fatal) return;
    if (this.watchdog) clearTimeout(this.watchdog);
    const cause = e instanceof Error ? e.message : String(e);
    this.fatal = e instanceof TimeoutError && lines.length ? e : new ZmpiError(lines.length ? `${lines.join("; ")}: ${cause}` : `the farm stopped: ${cause}`, { op: "farm" });
    for (const [r, t] of this.running) {
      const i = named.indexOf(r);
      t.state = "failed";
      t.future.reject(new TaskError(i < 0 ? `task "${t.name}" was lost: ${cause}` : cause.includes(lines[i]!) ? cause : `${lines[i]}: ${cause}`, this.info(t)));
    }
    for (const t of this.tasks.values())
      if (t.state === "waiting" || t.state === "ready") t.future.reject(new TaskError(`task "${t.name}" was not run: ${this.fatal.message}`, this.info(t)));
    this.wake();
  }

  private wake(): void {
    for (const w of this.settledWaiters.splice(0)) w();
  }

  /** Waits for every task, stops the workers, and says what happened. Rejects if the job failed. */
  async close(): Promise<FarmSummary> {
    this.stopping = true;
    const done = new Promise<void>((res) => this.settledWaiters.push(res));
    this.pump();
    await done;
    await this.loop;
    this.s.progress.stop();
    if (this.fatal) throw this.fatal;
    return { submitted: this.tasks.size, completed: this.completed, failed: this.failedCount, attemptsByRank: [...this.attempts] };
  }
}
