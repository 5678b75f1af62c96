// A closed farm releases its private communicator: a program that makes a farm per phase must not
// leave one context per farm in the engine for good.
import { describe, expect, it } from "vitest";
import { runInMemory } from "../../src/testing/index.js";

describe("farm lifetime", () => {
  it("close() frees the farm's communicator on every rank", async () => {
    const counts = await runInMemory(3, async (world) => {
      const engine = (world as unknown as { engine: { contextCount: number } }).engine;
      const before = engine.contextCount;
      for (let i = 0; i < 3; i++) {
        const farm = await world.farm({ progress: "none" });
        await farm.close();
      }
      return [before, engine.contextCount];
    });
    for (const [before, after] of counts) expect(after).toBe(before);
  });
});
