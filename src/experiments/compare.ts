/**
 * Correctness of one job's table against the baseline's: rows matched by key, values compared
 * column by column. Numbers (and arrays of numbers, e.g. a model's output vector) match within
 * `abs + rel * |baseline|` and report their largest absolute error; strings and booleans match
 * exactly; anything else goes to the user's comparison function when there is one, else to deep
 * equality.
 */
import { pathToFileURL } from "node:url";
import { isAbsolute, resolve } from "node:path";
import { UsageError } from "../errors.js";
import type { Row } from "../results/schema.js";

/** Numeric tolerance: a matches b when |a - b| <= abs + rel * |b|. */
export interface Tolerance {
  abs: number;
  rel: number;
}

/** What a comparison of two values says. */
export interface ValueMatch {
  match: boolean;
  /** Largest absolute error, for numbers and numeric arrays. */
  error: number | null;
}

/**
 * A user-supplied comparison, loaded from `module#export`: `true`/`false`, or `{ match, error }`.
 */
export type CompareFn = (value: unknown, baseline: unknown, ctx: { column: string; key: string }) => boolean | ValueMatch | Promise<boolean | ValueMatch>;

/** Loads `path/to/module.js#exportName` (default export name `compare`). */
export async function loadCompareFn(spec: string, baseDir = process.cwd()): Promise<CompareFn> {
  const [file, name = "compare"] = spec.split("#") as [string, string?];
  const url = /^[a-z]+:/i.test(file) ? file : pathToFileURL(isAbsolute(file) ? file : resolve(baseDir, file)).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`cannot load the comparison module ${spec}: ${(e as Error).message}`, { op: "summary" });
  }
  const fn = mod[name];
  if (typeof fn !== "function")
    throw new UsageError(`${spec}: the module has no exported function "${name}" (exports: ${Object.keys(mod).join(", ") || "none"})`, { op: "summary" });
  return fn as CompareFn;
}

const isNumArray = (v: unknown): v is ArrayLike<number> => (Array.isArray(v) && v.every((x) => typeof x === "number")) || (ArrayBuffer.isView(v) && !(v instanceof DataView));

function numbers(a: number, b: number, tol: Tolerance): ValueMatch {
  if (Number.isNaN(a) || Number.isNaN(b)) return { match: Number.isNaN(a) && Number.isNaN(b), error: Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity };
  const error = a === b ? 0 : Math.abs(a - b);
  return { match: error <= tol.abs + tol.rel * Math.abs(b), error };
}

/** Compares one value with the baseline's (see the module header). */
export async function compareValues(a: unknown, b: unknown, tol: Tolerance, ctx: { column: string; key: string }, custom?: CompareFn): Promise<ValueMatch> {
  if (typeof a === "number" && typeof b === "number") return numbers(a, b, tol);
  if (isNumArray(a) && isNumArray(b)) {
    if (a.length !== b.length) return { match: false, error: Infinity };
    let match = true;
    let error = 0;
    for (let i = 0; i < a.length; i++) {
      const r = numbers(Number(a[i]), Number(b[i]), tol);
      match &&= r.match;
      error = Math.max(error, r.error ?? 0);
    }
    return { match, error };
  }
  if (typeof a === "string" || typeof b === "string" || typeof a === "boolean" || typeof b === "boolean" || a === null || b === null) {
    if (custom && a !== null && b !== null && typeof a !== typeof b) return normalise(await custom(a, b, ctx));
    return { match: a === b, error: null };
  }
  if (custom) return normalise(await custom(a, b, ctx));
  return { match: JSON.stringify(a) === JSON.stringify(b), error: null };
}

function normalise(r: boolean | ValueMatch): ValueMatch {
  return typeof r === "boolean" ? { match: r, error: null } : { match: !!r.match, error: typeof r.error === "number" ? r.error : null };
}

/** Correctness of one table against the baseline. */
export interface Correctness {
  /** Baseline rows, job rows. */
  baselineRows: number;
  rows: number;
  /** Baseline keys found in the job's table, and how many of those matched in every compared column. */
  compared: number;
  matched: number;
  /** Baseline keys the job lacks, job keys the baseline lacks, keys the job has twice. */
  missing: number;
  extra: number;
  duplicates: number;
  /** matched / baseline rows. */
  matchRate: number;
  /** Largest absolute error over every numeric compared value (null: no numbers compared). */
  maxAbsError: number | null;
  /** A few keys that did not match, for the report. */
  mismatchedKeys: string[];
}

const keyOf = (r: Row, key: readonly string[]) => key.map((k) => JSON.stringify(r[k] ?? null)).join("|");

/** Compares a job's rows with the baseline's, matching rows by `key`. */
export async function correctness(
  rows: readonly Row[],
  baseline: readonly Row[],
  key: readonly string[],
  compare: readonly string[],
  tol: Tolerance,
  custom?: CompareFn,
): Promise<Correctness> {
  const byKey = new Map<string, Row>();
  let duplicates = 0;
  for (const r of rows) {
    const k = keyOf(r, key);
    if (byKey.has(k)) duplicates++;
    else byKey.set(k, r);
  }
  const baseKeys = new Set<string>();
  let compared = 0;
  let matched = 0;
  let maxAbsError: number | null = null;
  const mismatchedKeys: string[] = [];
  for (const b of baseline) {
    const k = keyOf(b, key);
    baseKeys.add(k);
    const r = byKey.get(k);
    if (!r) continue;
    compared++;
    let ok = true;
    for (const c of compare) {
      const v = await compareValues(r[c] ?? null, b[c] ?? null, tol, { column: c, key: k }, custom);
      ok &&= v.match;
      if (v.error !== null) maxAbsError = Math.max(maxAbsError ?? 0, v.error);
    }
    if (ok) matched++;
    else if (mismatchedKeys.length < 5) mismatchedKeys.push(k);
  }
  const missing = [...baseKeys].filter((k) => !byKey.has(k)).length;
  const extra = [...byKey.keys()].filter((k) => !baseKeys.has(k)).length;
  return {
    baselineRows: baseline.length,
    rows: rows.length,
    compared,
    matched,
    missing,
    extra,
    duplicates,
    matchRate: baseline.length ? matched / baseline.length : 0,
    maxAbsError,
    mismatchedKeys,
  };
}

/** The p-th percentile (0..100) by nearest rank, or null for no values. */
export function percentile(values: readonly number[], p: number): number | null {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * v.length));
  return v[Math.min(rank, v.length) - 1]!;
}
