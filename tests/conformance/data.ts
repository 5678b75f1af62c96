/**
 * What each rank contributes, and what the answer must be, computed without zmpi: element types,
 * the reduction ops with a plain-JS reference for each, deterministic contributions every rank can
 * compute for every other rank, and sequential folds over them (as mpi4py's tests compute
 * `cumsum(range(size))` themselves). Values are chosen so every reduction is exact in its type
 * (no overflow, integers in floats) except the one fractional case, compared within a tolerance.
 */
import { Op, type TypedArray, type TypedArrayConstructor } from "../../src/index.js";

/** One element of a typed array. */
export type Num = number | bigint;

/** An element type under test. */
export interface Dtype {
  name: string;
  ctor: TypedArrayConstructor;
  bytes: number;
  int: boolean;
  big: boolean;
  signed: boolean;
}

const dt = (name: string, ctor: TypedArrayConstructor, int: boolean, signed: boolean): Dtype => ({
  name,
  ctor,
  bytes: ctor.BYTES_PER_ELEMENT,
  int,
  big: ctor === BigInt64Array || ctor === BigUint64Array,
  signed,
});

/** Every element type zmpi reduces. */
export const DTYPES: readonly Dtype[] = [
  dt("float64", Float64Array, false, true),
  dt("float32", Float32Array, false, true),
  dt("int8", Int8Array, true, true),
  dt("uint8", Uint8Array, true, false),
  dt("int16", Int16Array, true, true),
  dt("uint16", Uint16Array, true, false),
  dt("int32", Int32Array, true, true),
  dt("uint32", Uint32Array, true, false),
  dt("int64", BigInt64Array, true, true),
  dt("uint64", BigUint64Array, true, false),
];

/** Uint8ClampedArray: moved by every collective, refused by every reduction (UsageError). */
export const U8C: Dtype = dt("uint8clamped", Uint8ClampedArray, true, false);

/** Every element type that travels (the reducible ones and Uint8ClampedArray). */
export const MOVABLE: readonly Dtype[] = [...DTYPES, U8C];

export const F64 = DTYPES[0]!;

/** A deterministic 32-bit hash of up to four integers (fixed arity: it runs per element of megabytes). */
export function hash(a: number, b = 0, c = 0, d = 0): number {
  let x = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 15) ^ b, 0xc2b2ae35);
  x = Math.imul(x ^ (x >>> 13) ^ c, 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 16) ^ d, 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

const scratch = new Map<TypedArrayConstructor, { [i: number]: Num }>();

/** Stores `v` in a one-element array of type `d` and reads it back: the type's wrap and rounding. */
export function cast(d: Dtype, v: Num): Num {
  let a = scratch.get(d.ctor);
  if (!a) {
    a = new d.ctor(1) as unknown as { [i: number]: Num };
    scratch.set(d.ctor, a);
  }
  a[0] = d.big ? (typeof v === "bigint" ? v : BigInt(Math.trunc(v))) : Number(v);
  return a[0]!;
}

/** A value spread over the whole range of `d` (for MIN/MAX, bitwise ops and data movement). */
function full(d: Dtype, h: number, h2: number): Num {
  if (d.big) return (BigInt(h) << 32n) | BigInt(h2);
  if (!d.int) return d.ctor === Float32Array ? Math.fround((h / 2 ** 32 - 0.5) * 2 ** (h2 % 60)) : (h - 2 ** 31) * 2 ** ((h2 % 200) - 100);
  return h;
}

/** A small integer: [-3, 3] signed, [0, 6] unsigned (sums over 17 ranks fit int8). */
function small(d: Dtype, h: number): Num {
  const v = d.signed ? (h % 7) - 3 : h % 7;
  return d.big ? BigInt(v) : v;
}

/** A reduction op under test, with its own reference. */
export interface OpSpec {
  /** Name in case names. */
  name: string;
  op: Op;
  /** MINLOC/MAXLOC: interleaved [value, index] pairs. */
  pairs: boolean;
  commutative: boolean;
  /** Compare within a relative tolerance (reduction order may differ for fractional floats). */
  tolerance?: number;
  /** Whether zmpi reduces `d` with this op (the others must be a UsageError). */
  applies(d: Dtype): boolean;
  /** Element `i` of rank `r`'s contribution (pairs: element 2j is a value, 2j+1 its index). */
  value(d: Dtype, r: number, i: number, size: number, salt: number): Num;
  /** The reference: `a` holds the lower ranks' partial result. */
  ref(a: Num, b: Num): Num;
}

const ints = (d: Dtype) => d.int;
const always = () => true;
const bool = (x: Num) => x !== 0 && x !== 0n;
const one = (a: Num, v: boolean): Num => (typeof a === "bigint" ? (v ? 1n : 0n) : v ? 1 : 0);
const add = (a: Num, b: Num): Num => (a as number) + (b as number);

function op(name: string, o: Op, applies: OpSpec["applies"], value: OpSpec["value"], ref: OpSpec["ref"], extra: Partial<OpSpec> = {}): OpSpec {
  return { name, op: o, pairs: false, commutative: o.commutative, applies, value, ref, ...extra };
}

/** A large-ish exact summand: int32/uint32 up to 1e8, 64-bit up to 3·2^55, small elsewhere. */
function summand(d: Dtype, r: number, i: number, salt: number): Num {
  const h = hash(r, i, salt, 1);
  const s = small(d, h);
  if (d.big) return (s as bigint) * (i % 3 === 0 ? 2n ** 55n : 1n);
  if (d.ctor === Int32Array) return ((h % 200_000_001) - 100_000_000) | 0;
  if (d.ctor === Uint32Array) return h % 200_000_001;
  if (!d.int) return (h % 2001) - 1000;
  return s;
}

/** ±1 everywhere, one rank's 2 (or 0.5 in floats), an occasional 0 on rank 0: products stay exact. */
function factor(d: Dtype, r: number, i: number, size: number, salt: number): Num {
  const h = hash(r, i, salt, 2);
  let v: number = d.signed && h % 2 ? -1 : 1;
  if (i % size === r) v *= !d.int && i % 2 ? 0.5 : 2;
  if (r === 0 && i % 13 === 5) v = 0;
  return d.big ? BigInt(v) : v;
}

function logical(zeroOdds: number) {
  return (d: Dtype, r: number, i: number, _s: number, salt: number): Num => {
    const h = hash(r, i, salt, 3);
    const v = h % 1000 < zeroOdds * 1000 ? 0 : d.signed && h % 3 === 0 ? -3 : 1 + (h % 5);
    return d.big ? BigInt(v) : v;
  };
}

const spread = (d: Dtype, r: number, i: number, _s: number, salt: number): Num => cast(d, full(d, hash(r, i, salt, 4), hash(i, r, salt, 5)));

/** Distinct per rank in every type (so LAST/FIRST show whose data won), and cheap for megabytes. */
const ranked = (d: Dtype, r: number, i: number, _s: number, salt: number): Num => {
  const v = r * 1000 + ((i + salt) % 997) - 500;
  return d.big ? BigInt(v) : v;
};

/** [value, index]: values in a small range (ties happen), indices distinct per rank. */
function loc(d: Dtype, r: number, i: number, _s: number, salt: number): Num {
  const j = i >> 1;
  const v = i % 2 === 0 ? (hash(r, j, salt, 6) % 4) - (d.signed ? 2 : 0) : (r * 7 + j * 3) % 61;
  return d.big ? BigInt(v) : v;
}

function locRef(less: boolean) {
  // The better of two values; pairs and ties are handled by the fold (ties go to the lower index).
  return (a: Num, b: Num) => (less ? (a < b ? a : b) : a > b ? a : b);
}

/** A fractional float in [-1, 1): sums depend on order, so compared within a tolerance. */
const fraction = (d: Dtype, r: number, i: number, _s: number, salt: number): Num => {
  const v = hash(r, i, salt, 7) / 2 ** 31 - 1;
  return d.ctor === Float32Array ? Math.fround(v) : v;
};

/** User ops, made once per process (the same on every rank). */
export const USER_SUM = Op.create((a, b) => add(a as Num, b as Num), { name: "usersum" });
/** Non-commutative, associative: keeps the higher ranks' operand. */
export const USER_LAST = Op.create((_a, b) => b, { commutative: false, name: "last" });
/** Non-commutative, associative: keeps the lower ranks' operand. */
export const USER_FIRST = Op.create((a) => a, { commutative: false, name: "first" });

/** Every op, with the types it applies to. */
/** MIN's reference on numbers and bigints alike (Math.min takes no bigint): `b` on a tie. */
function lesser(a: Num, b: Num): Num {
  if (a < b) return a;
  return b;
}

/** MAX's reference, as {@link lesser}. */
function greater(a: Num, b: Num): Num {
  if (a > b) return a;
  return b;
}

export const OPS: readonly OpSpec[] = [
  op("SUM", Op.SUM, always, (d, r, i, _s, salt) => summand(d, r, i, salt), add),
  op("PROD", Op.PROD, always, factor, (a, b) => (a as number) * (b as number)),
  op("MIN", Op.MIN, always, spread, lesser),
  op("MAX", Op.MAX, always, spread, greater),
  op("LAND", Op.LAND, ints, logical(0.05), (a, b) => one(a, bool(a) && bool(b))),
  op("LOR", Op.LOR, ints, logical(0.95), (a, b) => one(a, bool(a) || bool(b))),
  op("BAND", Op.BAND, ints, spread, (a, b) => (typeof a === "bigint" ? a & (b as bigint) : (a as number) & (b as number))),
  op("BOR", Op.BOR, ints, spread, (a, b) => (typeof a === "bigint" ? a | (b as bigint) : (a as number) | (b as number))),
  op("BXOR", Op.BXOR, ints, spread, (a, b) => (typeof a === "bigint" ? a ^ (b as bigint) : (a as number) ^ (b as number))),
  op("MINLOC", Op.MINLOC, always, loc, locRef(true), { pairs: true }),
  op("MAXLOC", Op.MAXLOC, always, loc, locRef(false), { pairs: true }),
  op("usersum", USER_SUM, always, (d, r, i) => small(d, hash(r, i, 8)), add),
  op("last", USER_LAST, always, ranked, (_a, b) => b),
  op("first", USER_FIRST, always, ranked, (a) => a),
  op("SUM~", Op.SUM, (d) => !d.int, fraction, add, { tolerance: 1e-5 }),
];

export const opNamed = (name: string): OpSpec => OPS.find((o) => o.name === name)!;

function generate(d: Dtype, o: OpSpec, n: number, r: number, size: number, salt: number): TypedArray {
  const a = new d.ctor(n) as unknown as { [i: number]: Num };
  for (let i = 0; i < n; i++) a[i] = o.value(d, r, i, size, salt);
  return a as unknown as TypedArray;
}

/** Rank `r`'s contribution of `n` elements (stored in the type: the type's wrap and rounding); a fresh copy. */
export function contribution(d: Dtype, o: OpSpec, n: number, r: number, size: number, salt = 0): TypedArray {
  return remember(`c|${d.name}|${o.name}|${n}|${r}|${size}|${salt}`, () => generate(d, o, n, r, size, salt)).slice() as TypedArray;
}

/** `acc = acc ⊕ s` element-wise with `o`'s reference, stored in `acc`'s type. */
function foldInto(acc: TypedArray, s: TypedArray, o: OpSpec): void {
  const a = acc as unknown as { [i: number]: Num; length: number };
  const b = s as unknown as { [i: number]: Num };
  if (o.pairs) {
    for (let i = 0; i + 1 < a.length; i += 2) {
      const av = a[i]!,
        ai = a[i + 1]!,
        sv = b[i]!,
        si = b[i + 1]!;
      // Ties go to the lower index, as in MPI.
      if (sv === av ? si < ai : o.ref(av, sv) === sv) {
        a[i] = sv;
        a[i + 1] = si;
      }
    }
    return;
  }
  for (let i = 0; i < a.length; i++) a[i] = o.ref(a[i]!, b[i]!);
}

const memo = new Map<string, { v: unknown; bytes: number }>();
let memoBytes = 0;
/** Bytes of references kept at most (in memory all ranks of a world ask for the same ones). */
const MEMO_BYTES = 96 * 1024 * 1024;

const bytesOf = (v: unknown): number => (Array.isArray(v) ? v.reduce((a: number, x) => a + bytesOf(x), 0) : ArrayBuffer.isView(v) ? v.byteLength : 0);

/** Remembers recent expensive references, up to {@link MEMO_BYTES}, oldest dropped first. */
function remember<T>(key: string, make: () => T): T {
  const hit = memo.get(key);
  if (hit) return hit.v as T;
  const v = make();
  const bytes = bytesOf(v);
  memo.set(key, { v, bytes });
  memoBytes += bytes;
  for (const [k, e] of memo) {
    if (memoBytes <= MEMO_BYTES || k === key) break;
    memo.delete(k);
    memoBytes -= e.bytes;
  }
  return v;
}

/**
 * The inclusive prefixes of ranks 0..size-1's contributions folded in rank order: element r is
 * `x_0 ⊕ … ⊕ x_r` (the last is the full reduction).
 */
export function prefixes(d: Dtype, o: OpSpec, n: number, size: number, salt = 0): readonly TypedArray[] {
  return remember(`p|${d.name}|${o.name}|${n}|${size}|${salt}`, () => {
    const acc = contribution(d, o, n, 0, size, salt);
    const out: TypedArray[] = [acc.slice() as TypedArray];
    for (let r = 1; r < size; r++) {
      foldInto(acc, contribution(d, o, n, r, size, salt), o);
      out.push(acc.slice() as TypedArray);
    }
    return out;
  });
}

/**
 * A value that identifies (rank, position, salt): -0, NaN and ±Infinity at some float positions,
 * the whole range of the type elsewhere. Cheap (one multiply), since thresholds need megabytes.
 */
export function moveValue(d: Dtype, r: number, i: number, salt = 0): Num {
  if (!d.int) {
    if (i % 17 === 3) return -0;
    if (i % 17 === 5) return NaN;
    if (i % 17 === 7) return (i + r) % 2 ? Infinity : -Infinity;
    return r * 1000 + (i % 1000) + ((i * 7 + salt) % 8) / 8 - 500;
  }
  const h = Math.imul((r + 1) * 0x9e3779b1 + i, 0x85ebca6b) ^ Math.imul(i + salt, 0xc2b2ae35);
  return d.big ? (BigInt(h >>> 0) << 32n) | BigInt((h ^ (r << 8) ^ i) >>> 0) : h;
}

/** `n` elements identifying rank `r` (for data movement), stored in the type, shared: read only. */
export function moveRef(d: Dtype, n: number, r: number, salt = 0, offset = 0): TypedArray {
  return remember(`m|${d.name}|${n}|${r}|${salt}|${offset}`, () => {
    const a = new d.ctor(n) as unknown as { [i: number]: Num };
    for (let i = 0; i < n; i++) a[i] = moveValue(d, r, i + offset, salt);
    return a as unknown as TypedArray;
  });
}

/** {@link moveRef} as a fresh copy (what a rank passes to zmpi). */
export function moveData(d: Dtype, n: number, r: number, salt = 0, offset = 0): TypedArray {
  return moveRef(d, n, r, salt, offset).slice() as TypedArray;
}

/** Plain values for the object forms (msgpack): what mpi4py's test_cco_obj sends, in JS. */
export const MESSAGES: readonly unknown[] = (() => {
  const basic: unknown[] = [null, true, false, -7, 0, 7, 2 ** 31, -(2 ** 53) + 1, 2 ** 53 - 1, -2.17, 1.62, 1e-300, "zmpi", "ünïcødé ✓", ""];
  return [...basic, basic, Object.fromEntries(basic.map((v, k) => [`k${k}`, v])), { nested: [1, { deep: ["x", [2, 3]] }], empty: {}, list: [] }];
})();
