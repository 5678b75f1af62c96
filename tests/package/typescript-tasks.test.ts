/**
 * Pool tasks in TypeScript modules, with zmpi compiled (dist/, as in an installed package): a pool
 * worker must get a TypeScript loader whenever the rank could load the module itself. Before the
 * fix, each case failed with ERR_UNKNOWN_FILE_EXTENSION in the worker.
 */
import { describe, expect, it } from "vitest";
import { linesOf, runJob } from "../helpers/run.js";

const tasks = new URL("../fixtures/tasks/typed.ts", import.meta.url);
const dist = new URL("../../dist/src/compute/index.js", import.meta.url);

describe("pool tasks from .ts modules, zmpi compiled", () => {
  it("ranks started on a .ts program (node --import tsx) run them on 2 ranks", async () => {
    const r = await runJob("pool-typescript.ts", 2);
    expect(r.stderr).not.toMatch(/ERR_UNKNOWN_FILE_EXTENSION/);
    expect(r.code).toBe(0);
    expect(linesOf(r.stdout, 0)).toContain("typescript tasks: [1,8,27,0] area 6");
    expect(linesOf(r.stdout, 1)).toContain("typescript tasks: [1,8,27,1] area 6");
  });

  it("a compiled pool created in a process that runs TypeScript without tsx's hooks (vitest) runs them too", async () => {
    const { createPool } = (await import(dist.href)) as typeof import("../../src/compute/index.js");
    const pool = createPool({ size: 2 });
    try {
      expect(await pool.map<number, number>(tasks, "cube", [2, 3, 4])).toEqual([8, 27, 64]);
      expect(await pool.run<number>(tasks.href, "area", { w: 2, h: 5 })).toBe(10);
    } finally {
      await pool.close();
    }
  });
});
