/**
 * The one place a rank's runtime tells the bundle loader (env/code-cache.ts) that the first
 * `finalize()` is done, so V8's code for zmpi — compiled while loading, `init()` and `finalize()` —
 * can be saved for the next rank to start from (see the loader for why and how safely).
 *
 * The loader is a separate module instance from the code it loads (it is what loads the bundle),
 * so the two meet through a registry symbol on `globalThis`, not through an import. Without the
 * loader (tests of the compiled modules, `zmpi/testing`'s in-process worlds) nothing is there and
 * this does nothing.
 */

/** Where the loader leaves its handle. */
export const CODE_CACHE_SLOT = Symbol.for("zmpi.codeCache");

/** What the loader leaves at {@link CODE_CACHE_SLOT}. */
export interface CodeCacheHandle {
  /** Saves the code of the scripts loaded without a usable cache; at most once per process. */
  save(): void;
}

/**
 * Called by the first `finalize()` that completes: saves the code cache when one is wanted. Only a
 * rank of a job of several ranks saves: V8 keeps the functions compiled so far, and a one-rank
 * world compiles none of the transport, so its cache would leave every later job compiling that.
 */
export function codeCacheAfterFinalize(worldSize: number): void {
  if (worldSize < 2) return;
  const handle = (globalThis as { [CODE_CACHE_SLOT]?: CodeCacheHandle })[CODE_CACHE_SLOT];
  try {
    handle?.save();
  } catch {
    // A cache is an optimisation: failing to write one never fails finalize.
  }
}
