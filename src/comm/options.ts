/**
 * Checks of point-to-point arguments, so that bad input is a `UsageError` thrown by the call itself
 * before anything is sent (mpi4py gets this from Python's keyword arguments; an options object
 * gets it only by checking). Every field a call reads is checked, and a field it does not read is
 * refused: a misspelt `{ src: 1 }` would otherwise receive from anyone.
 */
import { UsageError } from "../errors.js";
import { isTypedArray, type TypedArray } from "../transport/dtype.js";
import { MAX_TAG } from "../transport/frame.js";
import { MAX_EAGER_LIMIT } from "./engine.js";
import { ANY_SOURCE, ANY_TAG, PROC_NULL } from "./matching.js";

/** The communicator a check is for: its size and its name (for the error). */
export interface Where {
  readonly size: number;
  readonly name: string;
}

/** Checked options of a send. */
export interface SendArgs {
  tag: number;
  timeoutMs: number | undefined;
}

/** Checked options of a receive or probe. */
export interface RecvArgs {
  source: number;
  tag: number;
  out: TypedArray | undefined;
  timeoutMs: number | undefined;
}

/** The option names each call accepts. */
const SEND_KEYS = ["tag", "timeoutMs"] as const;
const RECV_KEYS = ["source", "tag", "out", "timeoutMs"] as const;
export const PROBE_KEYS = ["source", "tag", "timeoutMs"] as const;
export const IPROBE_KEYS = ["source", "tag"] as const;
export const SENDRECV_KEYS = ["source", "tag", "out", "timeoutMs", "sendTag"] as const;
export const REPLACE_KEYS = ["source", "tag", "timeoutMs", "sendTag"] as const;

function fail(w: Where, op: string, message: string, ranks?: number[]): never {
  throw new UsageError(message, { comm: w.name, op, ranks });
}

/** The options object itself: undefined, or a plain object with only the `allowed` names. */
function optionsOf(w: Where, op: string, opts: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== "object" || Array.isArray(opts) || isTypedArray(opts)) {
    fail(w, op, `options must be an object like { ${allowed.join(", ")} }, got ${describe(opts)}`);
  }
  const o = opts as Record<string, unknown>;
  for (const k in o) if (!allowed.includes(k)) fail(w, op, `unknown option "${k}": ${op} takes ${allowed.join(", ")}`);
  return o;
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "an array";
  if (isTypedArray(x)) return `a ${x.constructor.name}`;
  switch (typeof x) {
    case "string":
      return JSON.stringify(x);
    case "bigint":
      return `${x}n`;
    case "object":
      return `a ${(x as object).constructor?.name ?? "null-prototype object"}`;
    case "function":
      return "a function";
    default:
      return String(x);
  }
}

function isRank(w: Where, x: unknown): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= 0 && x < w.size;
}

/** A destination: a rank of the communicator or PROC_NULL. */
export function checkDest(w: Where, op: string, dest: unknown): asserts dest is number {
  if (dest === PROC_NULL || isRank(w, dest)) return;
  fail(w, op, `destination ${describe(dest)} is not a rank of this communicator (0..${w.size - 1}) or PROC_NULL`, typeof dest === "number" ? [dest] : []);
}

/** A source: a rank, ANY_SOURCE or PROC_NULL (undefined: ANY_SOURCE). */
function checkSource(w: Where, op: string, source: unknown): number {
  if (source === undefined) return ANY_SOURCE;
  if (source === ANY_SOURCE || source === PROC_NULL || isRank(w, source)) return source as number;
  fail(w, op, `source ${describe(source)} is not a rank of this communicator (0..${w.size - 1}), ANY_SOURCE or PROC_NULL`, typeof source === "number" ? [source] : []);
}

/** A tag (undefined: `dflt`); `wildcard` allows ANY_TAG. */
export function checkTag(w: Where, op: string, tag: unknown, dflt: number, wildcard: boolean, what = "tag"): number {
  if (tag === undefined) return dflt;
  if (wildcard && tag === ANY_TAG) return tag;
  if (typeof tag === "number" && Number.isInteger(tag) && tag >= 0 && tag <= MAX_TAG) return tag;
  fail(w, op, `${what} ${describe(tag)} is invalid: tags are integers 0..${MAX_TAG}${wildcard ? " or ANY_TAG" : ""}`);
}

/** A deadline, ms: positive and finite. */
function isDeadline(ms: unknown): ms is number {
  return typeof ms === "number" && ms > 0 && Number.isFinite(ms);
}

/** A deadline in ms: a positive finite number, or undefined for the default (`ZMPI_TIMEOUT`). */
function checkTimeout(w: Where, op: string, ms: unknown): number | undefined {
  if (ms === undefined) return undefined;
  if (isDeadline(ms)) return ms;
  fail(w, op, `timeoutMs ${describe(ms)} is invalid: a deadline is a positive, finite number of milliseconds (leave it out for ZMPI_TIMEOUT)`);
}

/** A deadline option of `op` (`init`, `memoryWorld`): absent, or a positive, finite number of ms. */
export function checkDeadlineOption(op: string, name: string, ms: unknown): void {
  if (ms === undefined || isDeadline(ms)) return;
  throw new UsageError(`${name} ${describe(ms)} is invalid: a deadline is a positive, finite number of milliseconds`, { op });
}

/**
 * The engine's settings as a caller of `op` passes them, checked before anything starts: a negative
 * or fractional eager limit would make every array zero-copy or none, silently; a deadline of 0
 * or less would fail every wait at once.
 */
export function checkEngineOptions(op: string, o: { timeoutMs?: unknown; eagerLimit?: unknown }): void {
  checkDeadlineOption(op, "timeoutMs", o.timeoutMs);
  const e = o.eagerLimit;
  if (e === undefined || (typeof e === "number" && Number.isSafeInteger(e) && e >= 0 && e <= MAX_EAGER_LIMIT)) return;
  throw new UsageError(`eagerLimit ${describe(e)} is invalid: an integer from 0 to ${MAX_EAGER_LIMIT} bytes`, { op });
}

/** A receive buffer: a typed array or Buffer, or undefined. */
export function checkOut(w: Where, op: string, out: unknown): TypedArray | undefined {
  if (out === undefined || isTypedArray(out)) return out;
  fail(w, op, `out must be a typed array or Buffer to receive into, got ${describe(out)}`);
}

/** The checked options of a send. */
export function sendArgs(w: Where, op: string, opts: unknown): SendArgs {
  const o = optionsOf(w, op, opts, SEND_KEYS);
  return { tag: checkTag(w, op, o.tag, 0, false), timeoutMs: checkTimeout(w, op, o.timeoutMs) };
}

/** The checked options of a receive, probe or the receiving half of a sendrecv (`keys` says which names it takes). */
export function recvArgs(w: Where, op: string, opts: unknown, keys: readonly string[] = RECV_KEYS): RecvArgs {
  const o = optionsOf(w, op, opts, keys);
  return {
    source: checkSource(w, op, o.source),
    tag: checkTag(w, op, o.tag, ANY_TAG, true),
    out: checkOut(w, op, o.out),
    timeoutMs: checkTimeout(w, op, o.timeoutMs),
  };
}
