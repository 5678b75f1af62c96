/** The handle `submit()` returns: awaitable like a promise, and usable as another task's input. */

/** State of a task as its future sees it. */
export type FutureState = "pending" | "done" | "failed";

/** A task's eventual result, on rank 0. `await` it, or pass it in another task's `after`. */
export class TaskFuture<T = unknown> implements PromiseLike<T> {
  private readonly promise: Promise<T>;
  // Method signatures (not function-typed properties) keep TaskFuture<T> assignable to TaskFuture<unknown>.
  private settle!: { resolve(v: T): void; reject(e: unknown): void };
  private st: FutureState = "pending";

  /** @internal made by the farm */
  constructor(
    /** Task id, unique in its farm. */
    readonly id: number,
    /** Task name (also the log file's name). */
    readonly name: string,
    /** @internal the farm that owns it */
    readonly owner: object,
  ) {
    this.promise = new Promise<T>((resolve, reject) => (this.settle = { resolve, reject }));
    // A failure nobody awaits is reported by the farm (progress, close()), not as an unhandled
    // rejection that would kill rank 0.
    this.promise.catch(() => {});
  }

  /** `pending`, `done` or `failed`. */
  get state(): FutureState {
    return this.st;
  }

  /** @internal */
  resolve(v: T): void {
    if (this.st !== "pending") return;
    this.st = "done";
    this.settle.resolve(v);
  }

  /** @internal */
  reject(e: unknown): void {
    if (this.st !== "pending") return;
    this.st = "failed";
    this.settle.reject(e);
  }

  /** Promise interface. */
  // biome-ignore lint/suspicious/noThenProperty: a TaskFuture is a thenable on purpose (await works on it)
  then<A = T, B = never>(onFulfilled?: ((v: T) => A | PromiseLike<A>) | null, onRejected?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.promise.then(onFulfilled, onRejected);
  }

  /** Promise interface. */
  catch<B = never>(onRejected?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.promise.catch(onRejected);
  }
}
