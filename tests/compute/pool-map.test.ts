// pool.map's chunkSize and ordered options, a pool whose size is read without starting threads,
// and a main script handed to the pool refused at once.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { createPool, type ComputePool } from "../../src/compute/index.js";
import { UsageError } from "../../src/errors.js";
import { init } from "../../src/world/init.js";

const work = new URL("./fixtures/map-work.mjs", import.meta.url);

function threads(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))![1]);
}

describe("pool size without threads", () => {
  it("createPool and world.pool() give their size without starting a worker; the first task starts them", async () => {
    const before = threads();
    const p = createPool({ size: 4 });
    expect(p.size).toBe(4);
    const world = await init({ env: { SLURM_CPUS_PER_TASK: "3" } });
    const wp = world.pool({ size: 3 });
    expect(wp.size).toBe(3);
    expect(p.isStarted).toBe(false);
    expect(wp.isStarted).toBe(false);
    await new Promise((r) => setTimeout(r, 300)); // a worker that was started would be up by now
    expect(threads() - before).toBeLessThan(4); // 7 workers would be 7 threads
    expect(await p.run(work, "tagThread", 1)).toMatchObject({ x: 1 });
    expect(p.isStarted).toBe(true);
    expect(threads() - before).toBeGreaterThanOrEqual(4);
    await p.close();
    await world.finalize();
  });
});

describe("pool.map options", () => {
  const pool: ComputePool = createPool({ size: 2 });
  afterAll(() => pool.close());

  it("chunkSize groups items into one worker call per chunk; results stay in item order", async () => {
    const items = Array.from({ length: 23 }, (_, i) => i);
    for (const chunkSize of [1, 3, 7, 23, 100]) {
      const out = await pool.map<number, { x: number; threadId: number }>(work, "tagThread", items, { chunkSize });
      expect(out.map((o) => o.x)).toEqual(items);
      for (let c = 0; c < items.length; c += chunkSize) {
        const chunk = out.slice(c, c + chunkSize);
        expect(new Set(chunk.map((o) => o.threadId)).size).toBe(1); // one chunk, one worker
      }
    }
    expect(await pool.map(work, "tagThread", [], { chunkSize: 4 })).toEqual([]);
  });

  it("ordered: false gives results as chunks finish", async () => {
    const items = [
      { x: "slow", ms: 400 },
      { x: "fast", ms: 1 },
    ];
    expect(await pool.map(work, "sleepEcho", items, { ordered: false })).toEqual(["fast", "slow"]);
    expect(await pool.map(work, "sleepEcho", items)).toEqual(["slow", "fast"]);
    const many = Array.from({ length: 12 }, (_, i) => ({ x: i, ms: (i * 7) % 5 }));
    expect([...(await pool.map<unknown, number>(work, "sleepEcho", many, { ordered: false, chunkSize: 5 }))].sort((a, b) => a - b)).toEqual(many.map((m) => m.x));
  });

  it("a failing item rejects the map with its error; bad options are UsageErrors", async () => {
    await expect(pool.map(work, "failOn", [1, 2, 5, 7], { chunkSize: 2 })).rejects.toThrow(/item 5 is bad/);
    expect(() => pool.map(work, "tagThread", [1], { chunkSize: 0 })).toThrow(UsageError);
    expect(() => pool.map(work, "tagThread", [1], { chunkSize: 1.5 })).toThrow(/chunkSize must be a positive integer/);
    expect(() => pool.map(work, "tagThread", [1], { ordered: "yes" as never })).toThrow(/ordered must be a boolean/);
  });
});

describe("the main script as a pool task", () => {
  it("is refused at once with a UsageError that says to move the function to its own module", () => {
    const script = fileURLToPath(new URL("./fixtures/main-task.ts", import.meta.url));
    const r = spawnSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8", timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ERROR UsageError: pool.run: "work" is exported by .*main-task\.ts, the program's main script: move it to a module of its own/m);
  });
});
