/**
 * Loads a dependency the first time a caller needs it, not when zmpi is imported. Every rank imports
 * the whole public API (`import { init } from "zmpi"`), and a plain rank never writes Parquet or
 * draws a table: loading hyparquet-writer (51 modules), cli-table3 and cli-progress cost each rank
 * ~80 + ~25 + ~35 ms of CPU at start-up (measured, Node 20, this 2-core VM), 32 ranks × that on
 * two cores is seconds of `zmpi launch -n 32`. `require` is synchronous (Node ≥ 20.19 also
 * requires ES modules), so the callers' APIs stay synchronous.
 */
import { createRequire } from "node:module";

const load = createRequire(import.meta.url);

/** A getter that `require`s `specifier` on its first call and returns the same module after. */
export function lazyModule<T>(specifier: string): () => T {
  let mod: T | undefined;
  return () => (mod ??= load(specifier) as T);
}
