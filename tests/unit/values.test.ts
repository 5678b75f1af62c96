// Plain values through msgpack (src/comm/values.ts): which values come back exactly as sent. The
// list is mpi4py's test_p2p_obj.py `messages` (None, bools, ints at the 64-bit edges, floats,
// strings, lists, tuples, sets, dicts) in JavaScript's terms, plus what JavaScript users pass that
// pickle has and msgpack loses: -0, Map with any keys, Set, Date, BigInt, undefined.
import { describe, expect, it } from "vitest";
import { packValue, unpackValue } from "../../src/comm/values.js";
import { UsageError } from "../../src/index.js";
import { memoryWorld } from "../../src/groups/memory-world.js";

const roundTrip = (v: unknown) => unpackValue(packValue(v));

const basic: unknown[] = [
  null,
  undefined,
  true,
  false,
  -7,
  0,
  7,
  -(2 ** 53) + 1,
  2 ** 53 - 1,
  -2.17,
  0.0,
  3.14,
  NaN,
  Infinity,
  -Infinity,
  -0,
  "mpi4py",
  "",
  "ünïcødé ✓",
  2n ** 63n - 1n,
  -(2n ** 63n),
  2n ** 70n,
];

const faithful: [string, unknown][] = [
  ...basic.map((v, i) => [`basic ${i}: ${String(v)}`, v] as [string, unknown]),
  ["list of every basic value", basic],
  ["set of basic values", new Set(basic)],
  ["object of basic values", Object.fromEntries(basic.map((v, i) => [`k${i}`, v]))],
  ["-0 nested in arrays and objects", { a: [-0, 0, [-0]], b: { c: -0 } }],
  [
    "Map with string keys",
    new Map([
      ["a", 1],
      ["b", 2],
    ]),
  ],
  [
    "Map with number, bigint, boolean, null, array and object keys",
    new Map<unknown, unknown>([
      [1, "one"],
      [2n, "two"],
      [true, "t"],
      [null, "n"],
      [[1, 2], "arr"],
      [{ x: 1 }, "obj"],
    ]),
  ],
  ["Map in an object in an array, Map in a Map", [{ m: new Map([["inner", new Map([[-0, -0]])]]) }]],
  ["empty Map and Set", [new Map(), new Set()]],
  ["Set holding Maps", new Set([new Map([[1, 2]])])],
  ["Date", new Date(Date.UTC(2024, 1, 29, 12, 0, 0, 5))],
  ["RegExp", /a+b/gi],
  ["typed arrays nested", { f: new Float64Array([1.5, -0]), i: new Int8Array([-1]), b: Buffer.from("buf"), big: new BigUint64Array([2n ** 64n - 1n]) }],
  ["object with an undefined field", { a: undefined, b: 1 }],
  ["keys that look like numbers stay strings", { "1": 2, "01": 3 }],
];

describe("values that come back exactly as sent", () => {
  for (const [name, v] of faithful) {
    it(name, () => {
      expect(roundTrip(v)).toStrictEqual(v);
    });
  }

  it("-0 itself (toStrictEqual aside, by Object.is)", () => {
    expect(Object.is(roundTrip(-0), -0)).toBe(true);
    expect(Object.is((roundTrip([0, -0]) as number[])[1], -0)).toBe(true);
    expect(Object.is((roundTrip(new Map([["k", -0]])) as Map<string, number>).get("k"), -0)).toBe(true);
  });

  it("a Map comes back a Map (it used to be an object with string keys)", () => {
    const m = roundTrip(new Map([[1, "a"]])) as Map<number, string>;
    expect(m).toBeInstanceOf(Map);
    expect(m.get(1)).toBe("a");
  });

  it("the value sent is not changed by sending it", () => {
    const v = { m: new Map([[1, -0]]), a: [-0] };
    packValue(v);
    expect(v.m).toBeInstanceOf(Map);
    expect(Object.is(v.a[0], -0)).toBe(true);
  });

  it("through send/recv and bcast on the in-memory transport", async () => {
    const [a, b] = memoryWorld(2);
    const v = { when: new Date(5), tags: new Set(["x"]), index: new Map([[3, { z: -0 }]]) };
    await a!.send(v, 1);
    expect(await b!.recv({ source: 0 })).toStrictEqual(v);
    const [x, y] = await Promise.all([a!.bcast(v, 0), b!.bcast(undefined, 0)]);
    expect(y).toStrictEqual(v);
    expect(x).toStrictEqual(v);
  });
});

describe("values that change on the way (documented in the README)", () => {
  it("a hole in an array comes back as undefined", () => {
    // biome-ignore lint/suspicious/noSparseArray: the hole is what this test sends
    expect(roundTrip([1, , 3])).toStrictEqual([1, undefined, 3]);
  });

  it("an instance of another class comes back as a plain object of its fields", () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
      norm() {
        return Math.hypot(this.x, this.y);
      }
    }
    const got = roundTrip(new Point(3, 4));
    expect(got).toStrictEqual({ x: 3, y: 4 });
    expect(got).not.toBeInstanceOf(Point);
    expect(roundTrip({ p: new Point(1, -0) })).toStrictEqual({ p: { x: 1, y: -0 } });
  });

  it("shared references come back as separate copies", () => {
    const shared = { n: 1 };
    const got = roundTrip([shared, shared]) as object[];
    expect(got[0]).toStrictEqual(got[1]);
    expect(got[0]).not.toBe(got[1]);
  });

  it("an Error keeps its class and message", () => {
    const got = roundTrip(new RangeError("out of range")) as Error;
    expect(got).toBeInstanceOf(RangeError);
    expect(got.message).toBe("out of range");
  });

  it("symbol keys are dropped", () => {
    expect(roundTrip({ [Symbol("k")]: 1, b: 2 })).toStrictEqual({ b: 2 });
  });
});

describe("values that are refused with a UsageError before anything is sent", () => {
  const [c] = memoryWorld(1);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const cyclicWithMap: Record<string, unknown> = { m: new Map() };
  cyclicWithMap.self = cyclicWithMap;
  for (const [name, v] of [
    ["a function", () => 1],
    ["a function inside an object", { f: () => 1 }],
    ["a function inside a Map", new Map([[1, () => 1]])],
    ["a symbol inside an array", [Symbol("s")]],
    ["a cycle", cyclic],
    ["a cycle beside a Map", cyclicWithMap],
  ] as [string, unknown][]) {
    it(name, () => {
      expect(() => c!.send(v, 0)).toThrow(UsageError);
    });
  }
});
