// The compute pool: parallel kernels equal to single-thread, user work by module URL (order,
// errors with stack), crash recovery, reuse, sizing and a clean process exit after close().
import { execFileSync, spawn } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { createPool, gemm, reduce, reduceInto, resolvePoolSize, WorkerExitedError, type ComputePool } from "../../src/compute/index.js";
import { dot as dotSync } from "../../src/compute/index.js";
import { firstDiff, randomArray } from "./helpers.js";

const work = new URL("./fixtures/user-work.mjs", import.meta.url);

describe("pool sizing", () => {
  it("size option, else cpusPerTask / SLURM_CPUS_PER_TASK, else CPUs ÷ ranks on node", () => {
    expect(resolvePoolSize({ size: 3 }, { SLURM_CPUS_PER_TASK: "8" }, 16)).toBe(3);
    expect(resolvePoolSize({}, { SLURM_CPUS_PER_TASK: "8" }, 16)).toBe(8);
    expect(resolvePoolSize({ cpusPerTask: 4 }, { SLURM_CPUS_PER_TASK: "8" }, 16)).toBe(4);
    expect(resolvePoolSize({ cpusPerTask: null, ranksOnNode: 4 }, { SLURM_CPUS_PER_TASK: "8" }, 16)).toBe(4);
    expect(resolvePoolSize({ ranksOnNode: 3 }, {}, 16)).toBe(5);
    expect(resolvePoolSize({ ranksOnNode: 8 }, {}, 2)).toBe(1);
    expect(() => resolvePoolSize({ size: 0 }, {}, 2)).toThrow(UsageError);
    expect(() => resolvePoolSize({}, { SLURM_CPUS_PER_TASK: "two" }, 2)).toThrow(/SLURM_CPUS_PER_TASK/);
  });
});

describe("ComputePool", () => {
  const pool: ComputePool = createPool({ size: 2 });
  afterAll(() => pool.close());

  it("map runs a module's export in the workers and keeps item order", async () => {
    const items = Array.from({ length: 40 }, (_, i) => i);
    const out = await pool.map<number, { x: number; threadId: number }>(work, "slowEcho", items);
    expect(out.map((o) => o.x)).toEqual(items);
    expect(new Set(out.map((o) => o.threadId)).size).toBe(2); // both workers took part
    expect(await pool.map(work, "square", [3, 4])).toEqual([9, 16]);
    expect(await pool.map(work.pathname, "square", [])).toEqual([]); // plain path works too
  });

  it("a throwing function rejects with its type, message and a stack naming it; the pool goes on", async () => {
    const err = (await pool.run(work, "throwsNamedError", "step 3").catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toBe("walker failed: step 3");
    expect(err.stack).toContain("throwsNamedError");
    await expect(pool.map(work, "throwsNamedError", [1, 2])).rejects.toThrow(/walker failed/);
    await expect(pool.run(work, "notAFunction")).rejects.toThrow(/no exported function "notAFunction"/);
    await expect(pool.run(work, "missing")).rejects.toThrow(/no exported function/);
    await expect(pool.run(new URL("./fixtures/does-not-exist.mjs", import.meta.url), "x")).rejects.toThrow(/Cannot find module|ERR_MODULE_NOT_FOUND/);
    expect(await pool.run(work, "square", 7)).toBe(49);
  });

  it("a worker that calls process.exit rejects its task clearly; the worker is replaced and the rank lives", async () => {
    const before = (await pool.map<number, { threadId: number }>(work, "slowEcho", [0, 1, 2, 3, 4, 5])).map((o) => o.threadId);
    const err = (await pool.run(work, "exitWorker", 7).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(WorkerExitedError);
    expect(err.message).toMatch(/exited with code 7 while running exitWorker/);
    await pool.ready(); // the replacement has started
    const after = await pool.map<number, { x: number; threadId: number }>(work, "slowEcho", [1, 2, 3, 4, 5, 6]);
    expect(after.map((o) => o.x)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(after.some((o) => !before.includes(o.threadId))).toBe(true); // the replacement thread took work
  });

  it("an uncaught error in a worker's async code kills only that worker and names the error", async () => {
    const err = (await pool.run(work, "asyncCrash").catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(WorkerExitedError);
    expect(err.message).toMatch(/uncaught in worker timer/);
    expect(await pool.map(work, "square", [1, 2, 3])).toEqual([1, 4, 9]);
  });

  it("gemm equals the single-thread result bit for bit (f64 and f32, odd shapes, out/alpha/beta)", async () => {
    for (const C of [Float64Array, Float32Array] as const) {
      for (const [m, n, k] of [
        [257, 129, 67],
        [64, 64, 64],
        [1000, 30, 17],
        [3, 500, 400],
      ] as const) {
        const a = randomArray(C, m * k, m),
          b = randomArray(C, k * n, n);
        const single = gemm(a, b, m, n, k);
        const par = await pool.gemm(a, b, m, n, k);
        expect(firstDiff(par, single), `${C.name} ${m}x${n}x${k}`).toBe(-1);
        const c0 = randomArray(C, m * n, k);
        const c1 = c0.slice(),
          c2 = c0.slice();
        gemm(a, b, m, n, k, { out: c1, alpha: 0.5, beta: -2 });
        const ret = await pool.gemm(a, b, m, n, k, { out: c2, alpha: 0.5, beta: -2 });
        expect(ret).toBe(c2);
        expect(firstDiff(c2, c1)).toBe(-1);
      }
    }
  });

  it("gemm on arrays in the shared memory works in place", async () => {
    const m = 200,
      n = 150,
      k = 120;
    const a = pool.alloc(Float64Array, m * k),
      b = pool.alloc(Float64Array, k * n),
      c = pool.alloc(Float64Array, m * n);
    a.set(randomArray(Float64Array, m * k, 1));
    b.set(randomArray(Float64Array, k * n, 2));
    const ret = await pool.gemm(a, b, m, n, k, { out: c });
    expect(ret).toBe(c);
    expect(firstDiff(c, gemm(a.slice(), b.slice(), m, n, k))).toBe(-1);
    pool.free(a);
    pool.free(b);
    pool.free(c);
  });

  it("element-wise ops on shared-memory arrays split across workers and equal the single-thread run", async () => {
    const n = (1 << 19) + 13;
    for (const C of [Float64Array, Float32Array, Int32Array] as const) {
      const ops = C === Int32Array ? (["sum", "prod", "max", "bxor", "land"] as const) : (["sum", "prod", "min", "max"] as const);
      for (const op of ops) {
        const d = pool.alloc(C, n),
          s = pool.alloc(C, n);
        d.set(randomArray(C, n, 5));
        s.set(randomArray(C, n, 6));
        const want = d.slice();
        reduceInto(op, want, s.slice());
        await pool.reduceInto(op, d, s);
        expect(firstDiff(d, want), `${C.name} ${op}`).toBe(-1);
        pool.free(d);
        pool.free(s);
      }
    }
    const x = pool.alloc(Float64Array, n),
      y = pool.alloc(Float64Array, n);
    x.set(randomArray(Float64Array, n, 7));
    y.set(randomArray(Float64Array, n, 8));
    const y0 = y.slice();
    await pool.axpy(2.5, x, y);
    for (let i = 0; i < n; i += 9973) expect(y[i]).toBe(y0[i]! + 2.5 * x[i]!);
    await pool.scale(0.5, y);
    expect(await pool.reduce("max", x)).toBe(reduce("max", x.slice()));
    expect(await pool.reduce("min", x)).toBe(reduce("min", x.slice()));
    expect(Math.abs((await pool.sum(x)) - reduce("sum", x.slice()))).toBeLessThan(1e-9);
    expect(Math.abs((await pool.dot(x, y)) - dotSync(x.slice(), y.slice()))).toBeLessThan(1e-9);
    const xi = pool.alloc(Int32Array, n).fill(-3);
    expect(await pool.sum(xi)).toBe(-3 * n);
    pool.free(x);
    pool.free(y);
    pool.free(xi);
  });

  it("validates like the module-level kernels", async () => {
    await expect(pool.gemm(new Float64Array(4), new Float32Array(4) as unknown as Float64Array, 2, 2, 2)).rejects.toThrow(UsageError);
    const a = new Float64Array(4);
    await expect(pool.gemm(a, new Float64Array(4), 2, 2, 2, { out: a })).rejects.toThrow(/must not share memory/);
    await expect(pool.gemm(new Float64Array(4), new Float64Array(4), 2, 2, 2, { beta: 1 })).rejects.toThrow(/needs the existing C/);
    await expect(pool.reduceInto("bor", new Float64Array(2), new Float64Array(2))).rejects.toThrow(/integer arrays only/);
  });
});

describe("pool with ZMPI_KERNELS=js", () => {
  it("runs the JS kernels in its workers and gives the same bits as the WASM pool", async () => {
    const m = 97,
      n = 83,
      k = 301;
    const a = randomArray(Float64Array, m * k, 11),
      b = randomArray(Float64Array, k * n, 12);
    const script = `
      import { createPool } from ${JSON.stringify(new URL("../../src/compute/index.ts", import.meta.url).href)};
      import { randomArray } from ${JSON.stringify(new URL("./helpers.ts", import.meta.url).href)};
      const pool = createPool({ size: 2 });
      const a = randomArray(Float64Array, ${m * k}, 11), b = randomArray(Float64Array, ${k * n}, 12);
      const x = pool.alloc(Float64Array, 1 << 19).fill(0.25);
      await pool.reduceInto("sum", x, x);
      const c = await pool.gemm(a, b, ${m}, ${n}, ${k});
      console.log(JSON.stringify({ backend: pool.backend, c: Array.from(c), x: x[12345] }));
      await pool.close();
    `;
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { env: { ...process.env, ZMPI_KERNELS: "js" }, encoding: "utf8" });
    const res = JSON.parse(out.trim()) as { backend: string; c: number[]; x: number };
    expect(res.backend).toBe("js");
    expect(res.x).toBe(0.5);
    const p = createPool({ size: 2 });
    try {
      expect(firstDiff(res.c, await p.gemm(a, b, m, n, k))).toBe(-1);
    } finally {
      await p.close();
    }
  });
});

describe("pool lifecycle", () => {
  it("a closed pool rejects new work; close is idempotent", async () => {
    const p = createPool({ size: 1 });
    expect(await p.run(work, "square", 5)).toBe(25);
    await p.close();
    await p.close();
    expect(() => p.run(work, "square", 1)).toThrow(/closed/);
  });

  it("close waits for running tasks", async () => {
    const p = createPool({ size: 1 });
    const pending = p.map(work, "slowEcho", [1, 2, 3]);
    await p.close();
    expect((await pending).map((o) => (o as { x: number }).x)).toEqual([1, 2, 3]);
  });

  it("a process that creates a pool, runs work and closes it exits on its own", async () => {
    const script = `
      import { createPool } from ${JSON.stringify(new URL("../../src/compute/index.ts", import.meta.url).href)};
      const pool = createPool({ size: 2 });
      const r = await pool.map(${JSON.stringify(work.href)}, "square", [1, 2, 3]);
      const c = await pool.gemm(new Float64Array(128 * 128).fill(1), new Float64Array(128 * 128).fill(1), 128, 128, 128);
      await pool.run(${JSON.stringify(work.href)}, "exitWorker", 1).catch(() => {});
      await pool.close();
      console.log(JSON.stringify({ r, c0: c[0] }));
    `;
    const t0 = Date.now();
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "",
      errOut = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (errOut += d.toString()));
    const code = await new Promise<number | string>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        resolve("timeout");
      }, 10_000);
      child.on("exit", (c) => {
        clearTimeout(timer);
        resolve(c ?? -1);
      });
    });
    expect(code, errOut).toBe(0);
    expect(JSON.parse(out.trim())).toEqual({ r: [1, 4, 9], c0: 128 });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it("an idle pool that is never closed does not keep the process alive", async () => {
    const script = `
      import { createPool } from ${JSON.stringify(new URL("../../src/compute/index.ts", import.meta.url).href)};
      const pool = createPool({ size: 2 });
      console.log(await pool.run(${JSON.stringify(work.href)}, "square", 6));
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | string>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        resolve("timeout");
      }, 10_000);
      child.on("exit", (c) => {
        clearTimeout(timer);
        resolve(c ?? -1);
      });
    });
    expect(code).toBe(0);
    expect(out.trim()).toBe("36");
  });
});
