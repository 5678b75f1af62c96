/**
 * Reduction operations. Built-in ops reduce typed arrays element-wise through the compute core's
 * `reduceInto` (WASM SIMD for f64/f32/i32, exact BigInt for 64-bit integers) and plain values with
 * a scalar rule; `Op.create` makes an op from a user function.
 *
 * Layering note: collectives import the compute layer's leaf kernel module (`reduce-into`), which
 * imports nothing from the layers above it; the worker pool, which does, stays above.
 */
import { UsageError } from "../errors.js";
import { reduceInto } from "../compute/reduce-into.js";
import type { ReduceOp } from "../compute/types.js";
import { isTypedArray, type TypedArray } from "../transport/dtype.js";

/** A user reduction: combines the partial result of lower ranks (`a`) with that of higher ranks (`b`). */
export type ReduceFn = (a: unknown, b: unknown) => unknown;

/** Options of {@link Op.create}. */
export interface OpOptions {
  /** True if `fn(a, b) === fn(b, a)`: allows reordering (ring and halving algorithms). Default true. */
  commutative?: boolean;
  /** Name used in error messages. */
  name?: string;
}

type PairArray = Float64Array | Float32Array | Int32Array | BigInt64Array;

function minmaxLoc(less: boolean) {
  return (a: unknown, b: unknown): unknown => {
    const [va, ia] = a as [number | bigint, number];
    const [vb, ib] = b as [number | bigint, number];
    if (va === vb) return ia <= ib ? a : b;
    return (less ? va < vb : va > vb) ? a : b;
  };
}

const SCALAR: Record<string, ReduceFn> = {
  SUM: (a, b) => (a as number) + (b as number),
  PROD: (a, b) => (a as number) * (b as number),
  MIN: (a, b) => (typeof a === "bigint" || typeof b === "bigint" ? ((a as bigint) < (b as bigint) ? a : b) : Math.min(a as number, b as number)),
  MAX: (a, b) => (typeof a === "bigint" || typeof b === "bigint" ? ((a as bigint) > (b as bigint) ? a : b) : Math.max(a as number, b as number)),
  LAND: (a, b) => Boolean(a) && Boolean(b),
  LOR: (a, b) => Boolean(a) || Boolean(b),
  BAND: (a, b) => (typeof a === "bigint" ? (a as bigint) & (b as bigint) : (a as number) & (b as number)),
  BOR: (a, b) => (typeof a === "bigint" ? (a as bigint) | (b as bigint) : (a as number) | (b as number)),
  BXOR: (a, b) => (typeof a === "bigint" ? (a as bigint) ^ (b as bigint) : (a as number) ^ (b as number)),
  MINLOC: minmaxLoc(true),
  MAXLOC: minmaxLoc(false),
};

/** A reduction operation. */
export class Op {
  /** Sum. Typed arrays element-wise; numbers and bigints as such. */
  static readonly SUM = new Op("SUM", true, SCALAR.SUM!, "sum");
  /** Product. */
  static readonly PROD = new Op("PROD", true, SCALAR.PROD!, "prod");
  /** Minimum (NaN propagates; -0 < +0, like Math.min). */
  static readonly MIN = new Op("MIN", true, SCALAR.MIN!, "min");
  /** Maximum (NaN propagates; +0 > -0, like Math.max). */
  static readonly MAX = new Op("MAX", true, SCALAR.MAX!, "max");
  /** Logical and (integer arrays give 1/0; plain values give booleans). */
  static readonly LAND = new Op("LAND", true, SCALAR.LAND!, "land");
  /** Logical or. */
  static readonly LOR = new Op("LOR", true, SCALAR.LOR!, "lor");
  /** Bitwise and (integers only). */
  static readonly BAND = new Op("BAND", true, SCALAR.BAND!, "band");
  /** Bitwise or (integers only). */
  static readonly BOR = new Op("BOR", true, SCALAR.BOR!, "bor");
  /** Bitwise xor (integers only). */
  static readonly BXOR = new Op("BXOR", true, SCALAR.BXOR!, "bxor");
  /**
   * Minimum value and its index. Plain values are `[value, index]` pairs; typed arrays hold
   * interleaved pairs `[v0, i0, v1, i1, …]`. Ties go to the lower index, as in MPI.
   */
  static readonly MINLOC = new Op("MINLOC", true, SCALAR.MINLOC!, null);
  /** Maximum value and its index (see {@link Op.MINLOC}). */
  static readonly MAXLOC = new Op("MAXLOC", true, SCALAR.MAXLOC!, null);

  private constructor(
    /** Name in messages and collective signatures. */
    readonly name: string,
    /** Whether operands may be reordered. */
    readonly commutative: boolean,
    private readonly scalar: ReduceFn,
    private readonly kernel: ReduceOp | null,
    private readonly user = false,
  ) {}

  /**
   * A user-defined op. For plain values `fn` gets whole values; for typed arrays it is applied
   * element by element. `a` always holds the lower ranks' partial result.
   */
  static create(fn: ReduceFn, opts: OpOptions = {}): Op {
    if (typeof fn !== "function") throw new UsageError("Op.create needs a function (a, b) => result");
    return new Op(opts.name ?? `user:${fn.name || "anonymous"}`, opts.commutative ?? true, fn, null, true);
  }

  /**
   * Elements per item the op reduces: 2 for MINLOC/MAXLOC on typed arrays (interleaved
   * `[value, index]` pairs, which no block of a bandwidth algorithm may cut), else 1.
   */
  get unit(): 1 | 2 {
    return this.name === "MINLOC" || this.name === "MAXLOC" ? 2 : 1;
  }

  /** True for ops made with {@link Op.create}. */
  get isUser(): boolean {
    return this.user;
  }

  /** Combines two plain values: `a` from lower ranks, `b` from higher. */
  combine(a: unknown, b: unknown): unknown {
    return this.scalar(a, b);
  }

  /** Checks that this op can reduce `data` (before anything is sent). */
  check(data: TypedArray): void {
    if (data instanceof Uint8ClampedArray) throw new UsageError(`${this.name} cannot reduce a Uint8ClampedArray: use Uint8Array`);
    const isFloat = data instanceof Float64Array || data instanceof Float32Array;
    if (isFloat && ["LAND", "LOR", "BAND", "BOR", "BXOR"].includes(this.name)) {
      throw new UsageError(`${this.name} is defined on integer arrays only, not ${data.constructor.name}`);
    }
    if (this.unit === 2 && data.length % 2 !== 0) {
      throw new UsageError(`${this.name} on a typed array needs interleaved [value, index] pairs (an even length), got ${data.length} elements`);
    }
  }

  /**
   * `dst = op(dst, src)` element-wise when `dstIsLower`, else `dst = op(src, dst)` (for
   * non-commutative user ops, so the lower ranks' operand stays on the left).
   */
  reduceInto(dst: TypedArray, src: TypedArray, dstIsLower = true): void {
    if (this.kernel) {
      reduceInto(this.kernel, dst as Parameters<typeof reduceInto>[1], src as Parameters<typeof reduceInto>[2]);
      return;
    }
    if (this.name === "MINLOC" || this.name === "MAXLOC") {
      const less = this.name === "MINLOC";
      const d = dst as PairArray;
      const s = src as PairArray;
      for (let i = 0; i < d.length; i += 2) {
        const dv = d[i]!,
          sv = s[i]!,
          di = d[i + 1]!,
          si = s[i + 1]!;
        if (sv === dv ? si < di : less ? sv < dv : sv > dv) {
          d[i] = sv;
          d[i + 1] = si;
        }
      }
      return;
    }
    const d = dst as unknown as { [i: number]: unknown; length: number };
    const s = src as unknown as { [i: number]: unknown };
    const fn = this.scalar;
    if (dstIsLower) for (let i = 0; i < d.length; i++) d[i] = fn(d[i], s[i]);
    else for (let i = 0; i < d.length; i++) d[i] = fn(s[i], d[i]);
  }

  /** Reduces two values of either kind into a result; may reuse `a` when it is a typed array. */
  apply(a: unknown, b: unknown): unknown {
    if (isTypedArray(a) && isTypedArray(b)) {
      this.reduceInto(a, b, true);
      return a;
    }
    return this.scalar(a, b);
  }
}
