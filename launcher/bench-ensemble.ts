/**
 * The ensemble and particle benchmarks of `npm run bench:kernels`: random-stream fill rates
 * (WASM SIMD into shared and plain Float64Arrays, the JS path, normals), a run of pool maps with a
 * fresh pool against a reused one, and SVGD wall time per step at 1, 2 and 4 ranks.
 *
 * Rates are given per wall second and per CPU second of this process: on a shared machine the
 * second is what one core does, the first what this run got.
 */
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { computeMemory, createPool } from "../src/compute/index.js";
import { createRng } from "../src/rng/index.js";
import { resetRngKernels } from "../src/rng/wasm.js";
import { launch } from "./launch.js";

/** One table row, as bench-kernels.ts prints them. */
export interface BenchRow {
  bench: string;
  backend: string;
  size: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  target: string;
  note: string;
}

function stats(xs: number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s[s.length - 1]! };
}

/** Wall and CPU seconds of each of `reps` calls, after `warm` untimed ones. */
async function timeBoth(fn: () => unknown, reps: number, warm = 1): Promise<{ wall: number[]; cpu: number[] }> {
  for (let i = 0; i < warm; i++) await fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    wall.push((performance.now() - t0) / 1e3);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6);
  }
  return { wall, cpu };
}

async function benchRng(reps: number, quick: boolean): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const n = quick ? 1 << 20 : 1 << 23;
  const size = `${n / 2 ** 20} Mi f64`;
  const rate = (bench: string, backend: string, t: { wall: number[]; cpu: number[] }, items: number, target: string) => {
    rows.push({ bench, backend, size, unit: "M/s wall", ...stats(t.wall.map((s) => items / s / 1e6)), target, note: "" });
    rows.push({ bench, backend, size, unit: "M/s per CPU-s", ...stats(t.cpu.map((s) => items / Math.max(s, 1e-6) / 1e6)), target, note: "one core's rate" });
  };
  const mem = computeMemory();
  const shared = mem.allocArray(Float64Array, n);
  const plain = new Float64Array(n);
  const r = createRng("bench");
  rate("rng fillUniform", "wasm-simd, shared memory", await timeBoth(() => r.fillUniform(shared), reps), n, ">= 100");
  rate("rng fillUniform", "wasm-simd, plain array", await timeBoth(() => r.fillUniform(plain), reps), n, ">= 100");
  rate("rng fillNormal", "wasm (scalar Box-Muller)", await timeBoth(() => r.fillNormal(plain), Math.max(3, reps >> 1)), n, "");
  mem.freeArray(shared);
  const before = process.env.ZMPI_KERNELS;
  process.env.ZMPI_KERNELS = "js";
  resetRngKernels();
  try {
    const small = new Float64Array(n >> 3);
    const js = await timeBoth(() => r.fillUniform(small), 3);
    rows.push(
      ...[
        ["M/s wall", js.wall],
        ["M/s per CPU-s", js.cpu],
      ].map(([unit, t]) => ({
        bench: "rng fillUniform",
        backend: "js (same bits)",
        size: `${small.length / 2 ** 20} Mi f64`,
        unit: unit as string,
        ...stats((t as number[]).map((s) => small.length / Math.max(s, 1e-6) / 1e6)),
        target: "",
        note: "",
      })),
    );
  } finally {
    if (before === undefined) delete process.env.ZMPI_KERNELS;
    else process.env.ZMPI_KERNELS = before;
    resetRngKernels();
  }
  return rows;
}

/**
 * A "run" = `iters` pool maps of `items` small tasks (an ensemble sampler's steps). Fresh: a new
 * pool per run (created, used, closed), the pattern the ensemble API replaces; reused: one pool.
 */
async function benchPoolReuse(reps: number, quick: boolean): Promise<BenchRow[]> {
  const task = new URL("../examples/ensemble-model.mjs", import.meta.url);
  const iters = quick ? 5 : 20;
  const items = Array.from({ length: 32 }, (_, k) => ({ theta: [0.1 * k, -0.2, 0.3] }));
  const run = async (pool: ReturnType<typeof createPool>) => {
    for (let i = 0; i < iters; i++) await pool.map(task, "logProb", items, { chunkSize: 16 });
  };
  const size = `${iters} maps × ${items.length} items`;
  const fresh = await timeBoth(
    async () => {
      const p = createPool({ size: 2 });
      await run(p);
      await p.close();
    },
    Math.max(3, reps >> 1),
  );
  const reused = createPool({ size: 2 });
  const kept = await timeBoth(() => run(reused), reps);
  await reused.close();
  const f = stats(fresh.wall.map((s) => s * 1e3));
  const k = stats(kept.wall.map((s) => s * 1e3));
  return [
    { bench: "pool per run", backend: "fresh pool of 2 (create, run, close)", size, unit: "ms/run", ...f, target: "", note: "" },
    { bench: "pool per run", backend: "reused pool of 2 (world.pool())", size, unit: "ms/run", ...k, target: "", note: `fresh/reused = ${(f.median / k.median).toFixed(1)}x` },
  ];
}

/** SVGD wall time per step at 1, 2, 4 ranks (examples/svgd.ts --bench). */
async function benchSvgd(quick: boolean): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const n = quick ? 128 : 1024;
  const steps = quick ? 4 : 21;
  const script = fileURLToPath(new URL("../examples/svgd.ts", import.meta.url));
  let one = NaN;
  for (const np of quick ? [1, 2] : [1, 2, 4]) {
    const out = new PassThrough();
    let text = "";
    out.on("data", (d: Buffer) => (text += d.toString()));
    const code = await launch({
      np,
      script,
      args: ["/tmp/zmpi-bench-svgd", "--particles", String(n), "--steps", String(steps), "--bench"],
      stdout: out,
      stderr: new PassThrough(),
      timeoutSec: 600,
    });
    const m = /SVGD_BENCH np=\d+ n=\d+ pool=(\d+) ms_per_step=([\d.]+)/.exec(text);
    if (code !== 0 || !m) {
      rows.push({
        bench: "svgd step",
        backend: `${np} rank(s)`,
        size: `${n} particles, 2-D`,
        unit: "ms/step",
        median: NaN,
        min: NaN,
        max: NaN,
        target: "",
        note: `failed (status ${code})`,
      });
      continue;
    }
    const ms = Number(m[2]);
    if (np === 1) one = ms;
    rows.push({
      bench: "svgd step",
      backend: `${np} rank(s), pool ${m[1]} each`,
      size: `${n} particles, 2-D`,
      unit: "ms/step",
      median: ms,
      min: ms,
      max: ms,
      target: "",
      note: np === 1 ? "" : `speed-up ${(one / ms).toFixed(2)}x`,
    });
  }
  return rows;
}

/** Every ensemble/particle benchmark row. */
export async function benchEnsemble(reps: number, quick: boolean): Promise<BenchRow[]> {
  return [...(await benchRng(reps, quick)), ...(await benchPoolReuse(reps, quick)), ...(await benchSvgd(quick))];
}
