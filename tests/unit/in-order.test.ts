// Per-peer delivery in send order, whatever order two connections bring the messages in.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InOrder, MAX_AHEAD, MAX_HELD, MAX_HELD_BYTES } from "../../src/transport/in-order.js";

describe("in-order delivery", () => {
  it("delivers every peer's messages in sequence order, each once, from any arrival order (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 30 }), { minLength: 3, maxLength: 3 }), fc.array(fc.nat(), { maxLength: 200 }), (counts, shuffle) => {
        const arrivals: Array<[number, number]> = counts.flatMap((n, src) => Array.from({ length: n }, (_, seq) => [src, seq] as [number, number]));
        // A deterministic shuffle driven by the generated numbers.
        for (let i = arrivals.length - 1; i > 0; i--) {
          const j = (shuffle[i % Math.max(1, shuffle.length)] ?? 0) % (i + 1);
          [arrivals[i], arrivals[j]] = [arrivals[j]!, arrivals[i]!];
        }
        const order = new InOrder<string>(3);
        const got: string[][] = [[], [], []];
        for (const [src, seq] of arrivals) expect(order.push(src, seq, `${src}:${seq}`, (m) => got[src]!.push(m))).toMatch(/^(delivered|held)$/);
        counts.forEach((n, src) => expect(got[src]).toEqual(Array.from({ length: n }, (_, seq) => `${src}:${seq}`)));
        for (let src = 0; src < 3; src++) expect(order.heldFrom(src)).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it("refuses a number already delivered, and holds what comes early", () => {
    const order = new InOrder<number>(1);
    const got: number[] = [];
    expect(order.push(0, 1, 1, (m) => got.push(m))).toBe("held");
    expect(got).toEqual([]);
    expect(order.heldFrom(0)).toBe(1);
    order.push(0, 0, 0, (m) => got.push(m));
    expect(got).toEqual([0, 1]);
    expect(order.push(0, 1, 1, (m) => got.push(m))).toBe("repeat");
    expect(got).toEqual([0, 1]);
  });

  it("holds a bounded amount: far-future numbers, too many or too large held messages are refused", () => {
    const order = new InOrder<number>(2);
    const none = () => {};
    expect(order.push(0, MAX_AHEAD + 1, 0, none)).toBe("too-far");
    expect(order.push(0, 2 ** 50, 0, none)).toBe("too-far");
    for (let s = 1; s <= MAX_HELD; s++) expect(order.push(0, s, s, none)).toBe("held");
    expect(order.push(0, MAX_HELD + 1, 0, none)).toBe("too-much");
    expect(order.heldFrom(0)).toBe(MAX_HELD);
    expect(order.push(1, 1, 0, none, MAX_HELD_BYTES)).toBe("held");
    expect(order.push(1, 2, 0, none, 1)).toBe("too-much");
    expect(order.heldBytesFrom(1)).toBe(MAX_HELD_BYTES);
    // The gap filled: everything held goes out in order and the bound is free again.
    const got: number[] = [];
    order.push(1, 0, 0, (m) => got.push(m));
    expect(order.heldBytesFrom(1)).toBe(0);
    expect(got).toHaveLength(2);
  });
});
