/**
 * Requests for non-blocking operations, like MPI_Request: `wait()` for the result, `test()` to poll
 * without blocking, and `waitAll` / `waitAny` over several.
 */

/** The outcome of {@link Request.test}. */
export type TestResult<T> = { done: true; value: T } | { done: false };

/** A non-blocking operation in flight. */
export class Request<T> {
  private state: "pending" | "done" | "failed" = "pending";
  private value: T | undefined;
  private error: unknown;
  private readonly promise: Promise<T>;

  /** Wraps a promise. A failure is kept for `wait()`/`test()`, never reported as unhandled. */
  constructor(promise: Promise<T>) {
    this.promise = promise.then(
      (v) => {
        this.state = "done";
        this.value = v;
        return v;
      },
      (e: unknown) => {
        this.state = "failed";
        this.error = e;
        throw e;
      },
    );
    this.promise.catch(() => {});
  }

  /** Resolves with the result when the operation completes; rejects with its error. */
  wait(): Promise<T> {
    return this.promise;
  }

  /** Non-blocking check: `{ done: true, value }` when complete; throws the operation's error. */
  test(): TestResult<T> {
    if (this.state === "done") return { done: true, value: this.value as T };
    if (this.state === "failed") throw this.error;
    return { done: false };
  }

  /** True once the operation completed (successfully or not). */
  get completed(): boolean {
    return this.state !== "pending";
  }
}

/** Waits for every request; results in the same order. Rejects with the first failure. */
export function waitAll<T>(requests: readonly Request<T>[]): Promise<T[]> {
  return Promise.all(requests.map((r) => r.wait()));
}

/** Waits for the first request to complete; gives its index and result. */
export function waitAny<T>(requests: readonly Request<T>[]): Promise<{ index: number; value: T }> {
  if (requests.length === 0) return Promise.reject(new RangeError("waitAny needs at least one request"));
  return Promise.race(requests.map((r, index) => r.wait().then((value) => ({ index, value }))));
}
