// init()'s and memoryWorld()'s own options are checked before anything starts, as the ZMPI_*
// variables are (settings.test.ts): a bad eager limit or deadline is a UsageError naming the option,
// not a job that silently sends every array one way or fails every wait at once.
import { describe, expect, it } from "vitest";
import { DEFAULT_EAGER_LIMIT, MAX_EAGER_LIMIT } from "../../src/comm/engine.js";
import { SETTINGS } from "../../src/env/settings.js";
import { UsageError } from "../../src/errors.js";
import { init } from "../../src/index.js";
import { memoryWorld } from "../../src/testing/memory-world.js";

describe("init and memoryWorld options", () => {
  it.each([
    [{ eagerLimit: -1 }, /init: eagerLimit -1 is invalid: an integer from 0 to 1073741824 bytes/],
    [{ eagerLimit: Number.NaN }, /eagerLimit NaN is invalid/],
    [{ eagerLimit: 1.5 }, /eagerLimit 1.5 is invalid/],
    [{ eagerLimit: "16384" }, /eagerLimit "16384" is invalid/],
    [{ eagerLimit: MAX_EAGER_LIMIT + 1 }, /eagerLimit 1073741825 is invalid/],
    [{ timeoutMs: 0 }, /init: timeoutMs 0 is invalid: a deadline is a positive, finite number of milliseconds/],
    [{ timeoutMs: -5 }, /timeoutMs -5 is invalid/],
    [{ rendezvousTimeoutMs: Number.POSITIVE_INFINITY }, /rendezvousTimeoutMs Infinity is invalid/],
    [{ exitGraceMs: -1 }, /exitGraceMs -1 is invalid/],
  ])("init(%o) rejects with a UsageError naming the option", async (opts, message) => {
    const p = init(opts as Parameters<typeof init>[0]);
    await expect(p).rejects.toBeInstanceOf(UsageError);
    await expect(p).rejects.toThrow(message);
  });

  it("memoryWorld checks the same options", () => {
    expect(() => memoryWorld(2, { eagerLimit: -3 })).toThrow(/memoryWorld: eagerLimit -3 is invalid/);
    expect(() => memoryWorld(2, { timeoutMs: 0 })).toThrow(/memoryWorld: timeoutMs 0 is invalid/);
  });

  it("the eager limit: init's option wins over ZMPI_EAGER_LIMIT, which wins over the default; 0 and the largest are accepted", async () => {
    const cases: [Parameters<typeof init>[0], number][] = [
      [{ env: {} }, DEFAULT_EAGER_LIMIT],
      [{ env: { ZMPI_EAGER_LIMIT: "4096" } }, 4096],
      [{ env: { ZMPI_EAGER_LIMIT: "4096" }, eagerLimit: 0 }, 0],
      [{ env: {}, eagerLimit: MAX_EAGER_LIMIT }, MAX_EAGER_LIMIT],
    ];
    for (const [opts, want] of cases) {
      const world = await init(opts);
      try {
        expect(world.engine.config.eagerLimit).toBe(want);
      } finally {
        await world.finalize();
      }
    }
  });

  it("ZMPI_EAGER_LIMIT's documented default and range are the engine's", () => {
    expect(SETTINGS.eagerLimit.defaultText).toBe(String(DEFAULT_EAGER_LIMIT));
    expect(SETTINGS.eagerLimit.accepts).toBe(`an integer from 0 to ${MAX_EAGER_LIMIT} (bytes)`);
  });
});
