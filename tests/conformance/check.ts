/**
 * Soft assertions for bodies that run on many ranks at once. A failed check records a message
 * and lets the case go on: a rank that stopped halfway through a case would skip collectives its
 * peers are still in, and turn one wrong value into a hang. Cases are named by what varies
 * (collective, root, op, dtype, size, algorithm, form), so a failure reads like a test name.
 */
import { isDeepStrictEqual } from "node:util";
import { UsageError, type TypedArray } from "../../src/index.js";
import type { Num } from "./data.js";

/** A class, for `instanceof` (a typed-array constructor, an error class). */
// biome-ignore lint/suspicious/noExplicitAny: constructors of any signature
type Class = abstract new (...args: any[]) => unknown;

/** One failed case on one rank. */
export interface Failure {
  case: string;
  message: string;
}

/** Short, bigint- and -0-safe rendering of a value for messages. */
export function show(v: unknown, max = 120): string {
  let s: string;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    const all = v as unknown as { length: number; subarray(a: number, b: number): ArrayLike<Num> };
    const head = Array.from(all.subarray(0, 12));
    s = `${v.constructor.name}(${all.length})[${head.map((x) => show(x)).join(",")}${all.length > 12 ? ",…" : ""}]`;
  } else if (typeof v === "bigint") s = `${v}n`;
  else if (Object.is(v, -0)) s = "-0";
  else if (typeof v === "number") s = String(v);
  else if (v === undefined) s = "undefined";
  else {
    try {
      s = JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? `${x}n` : Object.is(x, -0) ? "-0" : x));
    } catch {
      s = String(v);
    }
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** Name of an error for messages: its class and message. */
export function errorText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message.split("\n")[0]}`;
  return String(e);
}

/** Checks of one case on one rank. */
export class Check {
  readonly problems: string[] = [];

  /** Records a failure. */
  fail(message: string): void {
    this.problems.push(message);
  }

  /** `cond` must hold. */
  ok(cond: boolean, what: string): boolean {
    if (!cond) this.fail(what);
    return cond;
  }

  /** Deep, exact equality of plain values (numbers by Object.is: -0 ≠ 0, NaN = NaN). */
  equal(actual: unknown, expected: unknown, what: string): boolean {
    if (isDeepStrictEqual(actual, expected)) return true;
    this.fail(`${what}: got ${show(actual)}, expected ${show(expected)}`);
    return false;
  }

  /**
   * `actual` is a typed array of `ctor` whose elements equal `expected` exactly (Object.is), or
   * within `tolerance` (relative) when given.
   */
  typed(actual: unknown, ctor: Class, expected: ArrayLike<Num>, what: string, tolerance?: number): boolean {
    if (!(actual instanceof ctor) || !ArrayBuffer.isView(actual)) {
      this.fail(`${what}: got ${actual === null ? "null" : typeof actual === "object" ? actual.constructor.name : typeof actual} ${show(actual)}, expected a ${ctor.name}`);
      return false;
    }
    const a = actual as unknown as ArrayLike<Num>;
    if (tolerance === undefined && sameBytes(actual, expected)) return true;
    if (a.length !== expected.length) {
      this.fail(`${what}: got ${a.length} elements, expected ${expected.length} (${show(actual)})`);
      return false;
    }
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!,
        y = expected[i]!;
      const same = tolerance === undefined ? Object.is(x, y) : Math.abs(Number(x) - Number(y)) <= tolerance * Math.max(1, Math.abs(Number(y)));
      if (!same) {
        const bad = countDiffs(a, expected, tolerance);
        this.fail(`${what}: element ${i} is ${show(x)}, expected ${show(y)} (${bad} of ${a.length} differ; got ${show(actual, 80)})`);
        return false;
      }
    }
    return true;
  }

  /**
   * C1: a result that the caller did not ask to be `out` shares no memory with the input (and a
   * plain result is not the input object itself).
   */
  fresh(result: unknown, input: unknown, what: string): boolean {
    if (ArrayBuffer.isView(result) && ArrayBuffer.isView(input)) {
      return this.ok(!overlaps(result, input), `${what}: the result aliases the input (C1: results never alias inputs unless passed as out)`);
    }
    if (typeof result === "object" && result !== null) return this.ok(result !== input, `${what}: the result is the input object itself (C1: a copy)`);
    return true;
  }

  /** C1: with `out`, the result is `out`, or `out.subarray(0, n)` when `out` is longer. */
  isOut(result: unknown, out: TypedArray, n: number, what: string): boolean {
    const r = result as TypedArray | undefined;
    const ok = r !== undefined && ArrayBuffer.isView(r) && r.buffer === out.buffer && r.byteOffset === out.byteOffset && r.length === n;
    return this.ok(ok, `${what}: the result is not out${out.length > n ? `.subarray(0, ${n})` : ""} (got ${show(result, 60)})`);
  }

  /** Elements `from..` of `arr` still hold `fill` (the part of `out` a result must not touch). */
  untouched(arr: TypedArray, from: number, fill: Num, what: string): boolean {
    const a = arr as unknown as ArrayLike<Num>;
    for (let i = from; i < a.length; i++) {
      if (!Object.is(a[i], fill)) return this.ok(false, `${what}: out[${i}] beyond the result was written (${show(a[i])}, was ${show(fill)})`);
    }
    return true;
  }

  /**
   * `call` must fail with an error of class `cls` (synchronous throw or rejection) within
   * `timeoutMs`; a success or a hang is recorded.
   */
  async rejects(call: () => unknown, cls: Class, what: string, timeoutMs = 10_000): Promise<boolean> {
    let outcome: string;
    try {
      const p = call();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<"hang">((res) => (timer = setTimeout(() => res("hang"), timeoutMs)));
      const r = await Promise.race([Promise.resolve(p).then(() => "resolved" as const), deadline]).finally(() => clearTimeout(timer));
      outcome = r === "hang" ? `still pending after ${timeoutMs} ms` : `succeeded`;
    } catch (e) {
      if (e instanceof cls) return true;
      outcome = `failed with ${errorText(e)}`;
    }
    this.fail(`${what}: expected ${cls.name}, but the call ${outcome}`);
    return false;
  }
}

/** Fast exact check: both typed arrays of one type holding the same bytes (-0 ≠ 0, as Object.is). */
function sameBytes(a: ArrayBufferView, b: ArrayLike<Num>): boolean {
  if (!ArrayBuffer.isView(b) || a.constructor !== (b as ArrayBufferView).constructor) return false;
  const bv = b as ArrayBufferView;
  return a.byteLength === bv.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(bv.buffer, bv.byteOffset, bv.byteLength));
}

function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.buffer !== b.buffer || a.byteLength === 0 || b.byteLength === 0) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

function countDiffs(a: ArrayLike<Num>, b: ArrayLike<Num>, tolerance?: number): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    const same = tolerance === undefined ? Object.is(a[i], b[i]) : Math.abs(Number(a[i]) - Number(b[i])) <= tolerance * Math.max(1, Math.abs(Number(b[i])));
    if (!same) n++;
  }
  return n;
}

/** True for an error thrown before anything was sent, the same on every rank (a UsageError): the ranks stay in step after it. */
export function isRefusal(e: unknown): boolean {
  return e instanceof UsageError;
}
