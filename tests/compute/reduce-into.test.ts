// The reduceInto seam used by the collectives: every typed array type, integer wrapping, BigInt
// exactness, staging of large arrays, arrays in the compute memory (no copy), and argument errors.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { computeMemory, kernels, reduceInto, REDUCE_OPS, type ReduceOp, type ReducibleArray } from "../../src/compute/index.js";
import { requestedBackend } from "../../src/compute/backend.js";
import { firstDiff, randomArray, rng } from "./helpers.js";

type AnyCtor = new (n: number) => ReducibleArray;

function refInt(op: ReduceOp, a: number, b: number): number {
  switch (op) {
    case "sum":
      return a + b;
    case "prod":
      return Math.imul(a, b);
    case "min":
      return Math.min(a, b);
    case "max":
      return Math.max(a, b);
    case "band":
      return a & b;
    case "bor":
      return a | b;
    case "bxor":
      return a ^ b;
    case "land":
      return a !== 0 && b !== 0 ? 1 : 0;
    case "lor":
      return a !== 0 || b !== 0 ? 1 : 0;
  }
}

function refBig(op: ReduceOp, a: bigint, b: bigint): bigint {
  switch (op) {
    case "sum":
      return a + b;
    case "prod":
      return a * b;
    case "min":
      return a < b ? a : b;
    case "max":
      return a > b ? a : b;
    case "band":
      return a & b;
    case "bor":
      return a | b;
    case "bxor":
      return a ^ b;
    case "land":
      return a !== 0n && b !== 0n ? 1n : 0n;
    case "lor":
      return a !== 0n || b !== 0n ? 1n : 0n;
  }
}

describe("reduceInto (the collectives' seam)", () => {
  it("uses the WASM SIMD backend here unless ZMPI_KERNELS=js", () => {
    expect(kernels().name).toBe(process.env.ZMPI_KERNELS === "js" ? "js" : "wasm-simd");
  });

  const small: AnyCtor[] = [Int8Array, Uint8Array, Int16Array, Uint16Array, Uint32Array, Int32Array];
  for (const C of small) {
    it(`${C.name}: every op with wrapping integer semantics`, () => {
      const r = rng(C.name.length);
      for (const n of [0, 1, 5, 300, 1001]) {
        for (const op of REDUCE_OPS) {
          const d = new C(n) as Exclude<ReducibleArray, BigInt64Array | BigUint64Array>;
          const s = new C(n) as typeof d;
          for (let i = 0; i < n; i++) {
            d[i] = r() < 0.1 ? 0 : Math.floor(r() * 2 ** 32);
            s[i] = r() < 0.1 ? 0 : Math.floor(r() * 2 ** 32);
          }
          const want = new C(n) as typeof d;
          for (let i = 0; i < n; i++) want[i] = refInt(op, d[i]!, s[i]!);
          reduceInto(op, d, s);
          expect(firstDiff(d, want), `${op} n=${n}`).toBe(-1);
        }
      }
    });
  }

  for (const C of [BigInt64Array, BigUint64Array]) {
    it(`${C.name}: exact, wrapping at 64 bits`, () => {
      const r = rng(7);
      const rand64 = (): bigint => (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32));
      for (const op of REDUCE_OPS) {
        const n = 257;
        const d = new C(n),
          s = new C(n);
        for (let i = 0; i < n; i++) {
          d[i] = i % 9 === 0 ? 0n : rand64();
          s[i] = i % 7 === 0 ? 0n : rand64();
        }
        const want = new C(n);
        for (let i = 0; i < n; i++) want[i] = refBig(op, d[i]!, s[i]!); // the store wraps
        reduceInto(op, d, s);
        expect(firstDiff(d, want), op).toBe(-1);
      }
      // 2^63 - 1 + 1 wraps to -2^63 in int64, and 2^64 - 1 + 1 to 0 in uint64.
      const a = new C([C === BigInt64Array ? 2n ** 63n - 1n : 2n ** 64n - 1n]);
      reduceInto("sum", a, new C([1n]));
      expect(a[0]).toBe(C === BigInt64Array ? -(2n ** 63n) : 0n);
    });
  }

  for (const C of [Float64Array, Float32Array, Int32Array] as const) {
    it(`${C.name}: large arrays stream through the staging region (several chunks, ragged tail)`, () => {
      for (const n of [32768 * 2 + 1, 100_003]) {
        const d = randomArray(C, n, 1),
          s = randomArray(C, n, 2);
        const want = d.slice();
        for (let i = 0; i < n; i++) want[i] = C === Float32Array ? Math.fround(want[i]! + s[i]!) : C === Int32Array ? (want[i]! + s[i]!) | 0 : want[i]! + s[i]!;
        reduceInto("sum", d, s);
        expect(firstDiff(d, want)).toBe(-1);
      }
    });
  }

  it("arrays in the compute memory are reduced in place, alone or mixed with ordinary arrays", () => {
    const mem = computeMemory();
    const n = 70_001;
    const d = mem.allocArray(Float64Array, n),
      s = mem.allocArray(Float64Array, n);
    const d0 = randomArray(Float64Array, n, 3),
      s0 = randomArray(Float64Array, n, 4);
    d.set(d0);
    s.set(s0);
    const before = mem.allocatedBytes;
    reduceInto("max", d, s);
    expect(mem.allocatedBytes).toBe(before); // no scratch or stage allocated for the in-memory path
    const want = d0.map((v, i) => Math.max(v, s0[i]!));
    expect(firstDiff(d, want)).toBe(-1);
    const plain = d0.slice();
    reduceInto("max", plain, s); // dst outside, src inside
    expect(firstDiff(plain, want)).toBe(-1);
    d.set(d0);
    reduceInto("max", d, s0); // dst inside, src outside
    expect(firstDiff(d, want)).toBe(-1);
    mem.freeArray(d);
    mem.freeArray(s);
  });

  it("dst === src and partially overlapping views read src as it was", () => {
    const a = new Float64Array(1000).map((_, i) => i);
    reduceInto("sum", a, a);
    expect(a[999]).toBe(1998);
    const buf = new Float64Array(1001).map((_, i) => i);
    const dst = buf.subarray(1),
      src = buf.subarray(0, 1000);
    reduceInto("sum", dst, src);
    for (let i = 0; i < 1000; i++) expect(dst[i]).toBe(2 * i + 1);
  });

  it("rejects bad arguments with UsageError", () => {
    const f = new Float64Array(4);
    expect(() => reduceInto("band", f, new Float64Array(4))).toThrow(UsageError);
    expect(() => reduceInto("land", new Float32Array(4), new Float32Array(4))).toThrow(/integer arrays only/);
    expect(() => reduceInto("sum", f, new Float32Array(4))).toThrow(/same type/);
    expect(() => reduceInto("sum", f, new Float64Array(5))).toThrow(/4 elements but src has 5/);
    expect(() => reduceInto("avg" as ReduceOp, f, f)).toThrow(/unknown op/);
    expect(() => reduceInto("sum", new Uint8ClampedArray(2) as unknown as Uint8Array, new Uint8ClampedArray(2) as unknown as Uint8Array)).toThrow(UsageError);
    expect(() => reduceInto("sum", [1, 2] as unknown as Float64Array, f)).toThrow(/typed array/);
  });

  it("ZMPI_KERNELS picks the backend; a bad value is a UsageError", () => {
    expect(requestedBackend({ ZMPI_KERNELS: "js" })).toBe("js");
    expect(requestedBackend({})).toBe("auto");
    expect(requestedBackend({ ZMPI_KERNELS: "wasm" })).toBe("wasm");
    expect(() => requestedBackend({ ZMPI_KERNELS: "gpu" })).toThrow(UsageError);
    const out = execFileSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "-e",
        'import("./src/compute/index.ts").then((m) => { const a = new Float64Array(1000).fill(1); m.reduceInto("sum", a, a); console.log(m.kernels().name, a[999]); })',
      ],
      { env: { ...process.env, ZMPI_KERNELS: "js" }, encoding: "utf8" },
    );
    expect(out.trim()).toBe("js 2");
  });
});
