// Per-peer delivery in send order, whatever order two connections bring the messages in.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InOrder } from "../../src/transport/in-order.js";

describe("in-order delivery", () => {
  it("delivers every peer's messages in sequence order, each once, from any arrival order (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 30 }), { minLength: 3, maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 200 }),
        (counts, shuffle) => {
          const arrivals: Array<[number, number]> = counts.flatMap((n, src) => Array.from({ length: n }, (_, seq) => [src, seq] as [number, number]));
          // A deterministic shuffle driven by the generated numbers.
          for (let i = arrivals.length - 1; i > 0; i--) {
            const j = (shuffle[i % Math.max(1, shuffle.length)] ?? 0) % (i + 1);
            [arrivals[i], arrivals[j]] = [arrivals[j]!, arrivals[i]!];
          }
          const order = new InOrder<string>(3);
          const got: string[][] = [[], [], []];
          for (const [src, seq] of arrivals) expect(order.push(src, seq, `${src}:${seq}`, (m) => got[src]!.push(m))).toBe(true);
          counts.forEach((n, src) => expect(got[src]).toEqual(Array.from({ length: n }, (_, seq) => `${src}:${seq}`)));
          for (let src = 0; src < 3; src++) expect(order.heldFrom(src)).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses a number already delivered, and holds what comes early", () => {
    const order = new InOrder<number>(1);
    const got: number[] = [];
    expect(order.push(0, 1, 1, (m) => got.push(m))).toBe(true);
    expect(got).toEqual([]);
    expect(order.heldFrom(0)).toBe(1);
    order.push(0, 0, 0, (m) => got.push(m));
    expect(got).toEqual([0, 1]);
    expect(order.push(0, 1, 1, (m) => got.push(m))).toBe(false);
    expect(got).toEqual([0, 1]);
  });
});
