/** Sequential references and deterministic data for collective tests. */
import type { TypedArray, TypedArrayConstructor } from "../../src/index.js";
import { rng } from "../compute/helpers.js";

/** dtypes under test, with a value generator that keeps every reduction exact. */
export const DTYPES: Array<{ name: string; ctor: TypedArrayConstructor; int: boolean; big: boolean }> = [
  { name: "f64", ctor: Float64Array, int: false, big: false },
  { name: "f32", ctor: Float32Array, int: false, big: false },
  { name: "i32", ctor: Int32Array, int: true, big: false },
  { name: "u8", ctor: Uint8Array, int: true, big: false },
  { name: "i16", ctor: Int16Array, int: true, big: false },
  { name: "u32", ctor: Uint32Array, int: true, big: false },
  { name: "i64", ctor: BigInt64Array, int: true, big: true },
];

/** Rank `r`'s data: integers small enough that sums over 256 ranks stay exact in f32. */
export function dataFor(ctor: TypedArrayConstructor, n: number, r: number, op: string, seed = 1): TypedArray {
  const rand = rng(seed * 7919 + r * 104729 + n);
  const big = ctor === BigInt64Array || ctor === BigUint64Array;
  const a = new ctor(n);
  for (let i = 0; i < n; i++) {
    let v: number;
    if (op === "PROD") v = rand() < 0.5 ? 1 : ctor === Uint8Array || ctor === Uint32Array ? 1 : -1;
    else if (op === "LAND" || op === "LOR") v = rand() < 0.8 ? 1 : 0;
    else v = Math.floor(rand() * (ctor === Uint8Array ? 256 : 200)) - (ctor === Uint8Array || ctor === Uint32Array ? 0 : 100);
    (a as unknown as { [i: number]: number | bigint })[i] = big ? BigInt(v) : v;
  }
  return a;
}

type Num = number | bigint;
const SCALAR: Record<string, (a: Num, b: Num) => Num> = {
  SUM: (a, b) => (a as number) + (b as number),
  PROD: (a, b) => (a as number) * (b as number),
  // biome-ignore lint/complexity/useMathMinMax: a and b may be bigints, which Math.min refuses
  MIN: (a, b) => (a < b ? a : b),
  // biome-ignore lint/complexity/useMathMinMax: a and b may be bigints, which Math.max refuses
  MAX: (a, b) => (a > b ? a : b),
  BAND: (a, b) => ((a as number) & (b as number)) as Num,
  BOR: (a, b) => ((a as number) | (b as number)) as Num,
  BXOR: (a, b) => ((a as number) ^ (b as number)) as Num,
  LAND: (a, b) => (a && b ? 1 : 0),
  LOR: (a, b) => (a || b ? 1 : 0),
};

/** Element-wise fold in rank order, wrapped to the array's type by storing into it. */
export function refReduce(arrays: TypedArray[], op: string): TypedArray {
  const out = arrays[0]!.slice() as TypedArray;
  const o = out as unknown as { [i: number]: Num };
  const big = out instanceof BigInt64Array || out instanceof BigUint64Array;
  for (let r = 1; r < arrays.length; r++) {
    const s = arrays[r] as unknown as { [i: number]: Num };
    for (let i = 0; i < out.length; i++) {
      let v = SCALAR[op]!(o[i]!, s[i]!);
      if (big && (op === "LAND" || op === "LOR")) v = BigInt(v as number);
      o[i] = v;
    }
  }
  return out;
}

/** Plain array copy, for deep equality. */
export function arr(x: TypedArray | undefined): Array<number | bigint> {
  return x === undefined ? [] : Array.from(x as unknown as ArrayLike<number | bigint>);
}

/** Concatenation of arrays of one type. */
export function concat(parts: TypedArray[]): TypedArray {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new (parts[0]!.constructor as TypedArrayConstructor)(n);
  let at = 0;
  for (const p of parts) {
    (out as unknown as { set(x: TypedArray, o: number): void }).set(p, at);
    at += p.length;
  }
  return out;
}
