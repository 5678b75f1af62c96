/**
 * Requests for non-blocking operations, like MPI_Request: `wait()` for the result, `test()` to poll
 * without blocking, and the array forms `waitAll` / `testAll`, `waitAny` / `testAny`,
 * `waitSome` / `testSome`.
 *
 * As in MPI, a request whose completion has been reported to the caller (by any of these) becomes
 * inactive, as MPI's handle becomes MPI_REQUEST_NULL: the *Any and *Some forms skip it, so each
 * completion is reported once and a loop of `waitAny` ends with index {@link UNDEFINED}. Unlike a
 * null handle, an inactive request still remembers its outcome: `wait()`, `test()`, `waitAll` and
 * `testAll` give it again (mpi4py gives None there).
 */
import { UNDEFINED } from "./matching.js";

/** The outcome of {@link Request.test} (and of {@link testAll}, with every value). */
export type TestResult<T> = { done: true; value: T } | { done: false };

/** The outcome of {@link waitAny}: `index` is {@link UNDEFINED} (and `value` undefined) when no request was active. */
export interface AnyResult<T> {
  index: number;
  value: T | undefined;
}

/** The outcome of {@link testAny}: `done: false` while active requests remain and none has completed. */
export type TestAnyResult<T> = ({ done: true } & AnyResult<T>) | { done: false };

/** The outcome of {@link waitSome} / {@link testSome}: the requests that completed, by index, and their values. */
export interface SomeResult<T> {
  indices: number[];
  values: T[];
}

/** A non-blocking operation in flight. */
export class Request<T> {
  #state: "pending" | "done" | "failed" = "pending";
  #value: unknown;
  #error: unknown;
  #active = true;
  readonly #promise: Promise<T>;
  /** Resolves (never rejects) once the operation has settled either way. */
  readonly #settled: Promise<void>;

  /** Wraps a promise. A failure is kept for `wait()`/`test()`, never reported as unhandled. */
  constructor(promise: Promise<T>) {
    this.#promise = promise.then(
      (v) => {
        this.#state = "done";
        this.#value = v;
        return v;
      },
      (e: unknown) => {
        this.#state = "failed";
        this.#error = e;
        throw e;
      },
    );
    this.#settled = this.#promise.then(
      () => {},
      () => {},
    );
  }

  /** A request that is already complete (a send to or receive from `PROC_NULL`): `test()` says done at once. */
  static completed<T>(value: T): Request<T> {
    const r = new Request(Promise.resolve(value));
    r.#state = "done";
    r.#value = value;
    return r;
  }

  /** Resolves with the result when the operation completes; rejects with its error. The request is then inactive. */
  wait(): Promise<T> {
    return this.#promise.then(
      (v) => {
        this.#active = false;
        return v;
      },
      (e: unknown) => {
        this.#active = false;
        throw e;
      },
    );
  }

  /**
   * Non-blocking check: `{ done: true, value }` when complete (the request is then inactive),
   * `{ done: false }` otherwise; throws the operation's error if it failed.
   */
  test(): TestResult<T> {
    if (this.#state === "pending") return { done: false };
    return { done: true, value: this.#take() };
  }

  /** True once the operation completed (successfully or not). */
  get completed(): boolean {
    return this.#state !== "pending";
  }

  /** False once the completion has been reported (by `wait`, `test` or an array form): *Any and *Some skip it. */
  get active(): boolean {
    return this.#active;
  }

  /** Reports the outcome of a completed request: inactive from now on; its value, or its error thrown. */
  #take(): T {
    this.#active = false;
    if (this.#state === "failed") throw this.#error;
    return this.#value as T;
  }

  /** See {@link waitAll}. */
  static waitAll<T>(requests: readonly Request<T>[]): Promise<T[]> {
    return new Promise<T[]>((resolve, reject) => {
      let left = requests.length;
      if (left === 0) resolve([]);
      for (const r of requests) {
        void r.#settled.then(() => {
          if (r.#state === "failed") {
            // Fail fast, as before: report this failure now; the others stay as they are.
            try {
              r.#take();
            } catch (e) {
              reject(e);
            }
            return;
          }
          if (--left === 0) {
            try {
              resolve(requests.map((q) => q.#take()));
            } catch (e) {
              reject(e);
            }
          }
        });
      }
    });
  }

  /** See {@link testAll}. */
  static testAll<T>(requests: readonly Request<T>[]): TestResult<T[]> {
    if (!requests.every((r) => r.#state !== "pending")) return { done: false };
    for (const r of requests) r.#active = false;
    const failed = requests.find((r) => r.#state === "failed");
    if (failed) throw failed.#error;
    return { done: true, value: requests.map((r) => r.#value as T) };
  }

  /** See {@link waitAny}. */
  static async waitAny<T>(requests: readonly Request<T>[]): Promise<AnyResult<T>> {
    for (;;) {
      const now = Request.testAny(requests);
      if (now.done) return { index: now.index, value: now.value };
      await Promise.race(requests.filter((r) => r.#active).map((r) => r.#settled));
    }
  }

  /** See {@link testAny}. */
  static testAny<T>(requests: readonly Request<T>[]): TestAnyResult<T> {
    let anyActive = false;
    for (let i = 0; i < requests.length; i++) {
      const r = requests[i]!;
      if (!r.#active) continue;
      anyActive = true;
      if (r.#state !== "pending") return { done: true, index: i, value: r.#take() };
    }
    return anyActive ? { done: false } : { done: true, index: UNDEFINED, value: undefined };
  }

  /** See {@link waitSome}. */
  static async waitSome<T>(requests: readonly Request<T>[]): Promise<SomeResult<T> | null> {
    for (;;) {
      const now = Request.testSome(requests);
      if (now === null || now.indices.length > 0) return now;
      await Promise.race(requests.filter((r) => r.#active).map((r) => r.#settled));
    }
  }

  /** See {@link testSome}. */
  static testSome<T>(requests: readonly Request<T>[]): SomeResult<T> | null {
    const done: number[] = [];
    let anyActive = false;
    for (let i = 0; i < requests.length; i++) {
      const r = requests[i]!;
      if (!r.#active) continue;
      anyActive = true;
      if (r.#state !== "pending") done.push(i);
    }
    if (!anyActive) return null;
    // A failure is reported alone: the successes beside it stay active for the next call.
    const failed = done.filter((i) => requests[i]!.#state === "failed");
    if (failed.length > 0) {
      for (const i of failed) requests[i]!.#active = false;
      throw requests[failed[0]!]!.#error;
    }
    return { indices: done, values: done.map((i) => requests[i]!.#take()) };
  }
}

/**
 * Waits for every request; results in the same order (an inactive request gives its value again).
 * Rejects with the first failure as soon as it happens. Every request is inactive afterwards.
 *
 * @example
 * const [, got] = await waitAll([comm.isend(x, next), comm.irecv({ source: prev })]);
 */
export function waitAll<T>(requests: readonly Request<T>[]): Promise<T[]> {
  return Request.waitAll(requests);
}

/**
 * All-or-nothing check without waiting: `{ done: true, value: results }` when every request has
 * completed (all become inactive; throws the first failure instead if one failed), else
 * `{ done: false }` and nothing changes.
 *
 * @example
 * while (!testAll(reqs).done) await doSomeWork();
 */
export function testAll<T>(requests: readonly Request<T>[]): TestResult<T[]> {
  return Request.testAll(requests);
}

/**
 * Waits for one active request to complete and reports it (lowest index first when several have);
 * it becomes inactive. With no active request (also for `[]`) gives `{ index: UNDEFINED }` at once.
 *
 * @example
 * for (let r = await waitAny(reqs); r.index !== UNDEFINED; r = await waitAny(reqs)) use(r.index, r.value);
 */
export function waitAny<T>(requests: readonly Request<T>[]): Promise<AnyResult<T>> {
  return Request.waitAny(requests);
}

/**
 * {@link waitAny} without waiting: `{ done: false }` while active requests remain and none has
 * completed; `{ done: true, index: UNDEFINED }` when none is active.
 *
 * @example
 * const r = testAny(reqs);
 * if (r.done && r.index !== UNDEFINED) use(r.value);
 */
export function testAny<T>(requests: readonly Request<T>[]): TestAnyResult<T> {
  return Request.testAny(requests);
}

/**
 * Waits until at least one active request has completed and reports every active one that has
 * (indices ascending); they become inactive. `null` when no request is active (MPI's outcount
 * MPI_UNDEFINED). A failure rejects alone: the completed successes stay active for the next call.
 *
 * @example
 * for (let s = await waitSome(reqs); s; s = await waitSome(reqs)) s.indices.forEach((i, k) => use(i, s.values[k]));
 */
export function waitSome<T>(requests: readonly Request<T>[]): Promise<SomeResult<T> | null> {
  return Request.waitSome(requests);
}

/**
 * {@link waitSome} without waiting: `{ indices: [], values: [] }` when active requests remain but
 * none has completed, `null` when none is active.
 *
 * @example
 * const s = testSome(reqs); // s?.indices: the requests that finished since the last call
 */
export function testSome<T>(requests: readonly Request<T>[]): SomeResult<T> | null {
  return Request.testSome(requests);
}
