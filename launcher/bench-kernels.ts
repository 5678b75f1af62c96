/**
 * Kernel benchmarks (`npm run bench:kernels`): reduce-into bandwidth, single-thread GEMM
 * (WASM SIMD and the JS fallback), pool GEMM scaling 1 → 2 workers, and the ratio to numpy when
 * python3 has it; then random-stream fill rates, a fresh pool per run against a reused one, and
 * SVGD's time per step at 1, 2, 4 ranks (bench-ensemble.ts). Prints a table and writes
 * bench-results/kernels.csv.
 *
 * Options (env): BENCH_REPS (default 9), BENCH_QUICK=1 (smaller sizes, for smoke runs).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Table from "cli-table3";
import { jsBackend, wasmBackend } from "../src/compute/backend.js";
import { computeMemory, createPool, kernels, reduceInto, type ComputePool } from "../src/compute/index.js";
import { packageRoot } from "../src/compute/wasm-loader.js";
import { benchEnsemble, type BenchRow } from "./bench-ensemble.js";

type Row = BenchRow;

const REPS = Number(process.env.BENCH_REPS ?? 9);
const QUICK = process.env.BENCH_QUICK === "1";
const rows: Row[] = [];

function stats(xs: number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s[s.length - 1]! };
}

/** Seconds per call: `warm` untimed calls, then `reps` timed ones. */
async function time(fn: () => unknown, reps = REPS, warm = 2): Promise<number[]> {
  for (let i = 0; i < warm; i++) await fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ts.push((performance.now() - t0) / 1e3);
  }
  return ts;
}

/** Record a rate: `work` units per call divided by each time (so min/max come from max/min time). */
function record(bench: string, backend: string, size: string, unit: string, work: number, secs: number[], target = "", note = ""): void {
  const st = stats(secs.map((s) => work / s));
  rows.push({ bench, backend, size, unit, ...st, target, note });
}

function fill(a: Float64Array | Float32Array, seed: number): void {
  let x = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    a[i] = x / 4294967296 - 0.5;
  }
}

async function benchReduce(pool2: ComputePool): Promise<void> {
  const n = QUICK ? 1 << 20 : (64 << 20) / 8; // 64 MiB of f64
  const bytes = n * 24; // read a, read b, write a
  const size = `${(n * 8) / 2 ** 20} MiB f64`;
  const mem = computeMemory();
  const a = mem.allocArray(Float64Array, n),
    b = mem.allocArray(Float64Array, n);
  a.fill(1);
  b.fill(1e-9);
  record("reduce-into a+=b", "wasm-simd, in shared memory", size, "GB/s", bytes / 1e9, await time(() => reduceInto("sum", a, b)), ">= 20");
  const pa = new Float64Array(n).fill(1),
    pb = new Float64Array(n).fill(1e-9);
  record("reduce-into a+=b", "wasm-simd, plain arrays (staged)", size, "GB/s", bytes / 1e9, await time(() => reduceInto("sum", pa, pb)), "");
  const js = jsBackend();
  record("reduce-into a+=b", "js", size, "GB/s", bytes / 1e9, await time(() => js.reduceInto("sum", pa, pb)), "");
  record("reduce-into a+=b", `pool ${pool2.size} workers, shared memory`, size, "GB/s", bytes / 1e9, await time(() => pool2.reduceInto("sum", a, b)), "");
  mem.freeArray(a);
  mem.freeArray(b);
}

async function benchGemm(): Promise<void> {
  const n = QUICK ? 256 : 512;
  const flops = (2 * n ** 3) / 1e9;
  const wasm = wasmBackend();
  const js = jsBackend();
  for (const [C, target] of [
    [Float32Array, ">= 30"],
    [Float64Array, ">= 12"],
  ] as const) {
    const a = new C(n * n),
      b = new C(n * n),
      c = new C(n * n);
    fill(a, 1);
    fill(b, 2);
    const dt = C === Float32Array ? "f32" : "f64";
    if (wasm) {
      record(`gemm ${dt} single-thread`, "wasm-simd, plain arrays", `${n}^3`, "GFLOP/s", flops, await time(() => wasm.gemm(n, n, n, 1, a, b, 0, c)), target);
      const mem = computeMemory();
      const ma = mem.allocArray(C, n * n),
        mb = mem.allocArray(C, n * n),
        mc = mem.allocArray(C, n * n);
      ma.set(a);
      mb.set(b);
      record(`gemm ${dt} single-thread`, "wasm-simd, in shared memory", `${n}^3`, "GFLOP/s", flops, await time(() => wasm.gemm(n, n, n, 1, ma, mb, 0, mc)), target);
      mem.freeArray(ma);
      mem.freeArray(mb);
      mem.freeArray(mc);
    }
    record(`gemm ${dt} single-thread`, "js", `${n}^3`, "GFLOP/s", flops, await time(() => js.gemm(n, n, n, 1, a, b, 0, c), 3, 1), "");
  }
}

async function benchScaling(pool1: ComputePool, pool2: ComputePool): Promise<void> {
  const n = QUICK ? 512 : 1024;
  const flops = (2 * n ** 3) / 1e9;
  for (const C of [Float32Array, Float64Array] as const) {
    const dt = C === Float32Array ? "f32" : "f64";
    const a = pool1.alloc(C, n * n),
      b = pool1.alloc(C, n * n),
      c = pool1.alloc(C, n * n);
    fill(a, 3);
    fill(b, 4);
    for (let i = 0; i < 2; i++) {
      await pool1.gemm(a, b, n, n, n, { out: c });
      await pool2.gemm(a, b, n, n, n, { out: c });
    }
    // Interleave 1- and 2-worker runs so host noise hits both alike; the speed-up is per pair.
    const t1: number[] = [],
      t2: number[] = [],
      ratio: number[] = [];
    for (let r = 0; r < REPS; r++) {
      let t0 = performance.now();
      await pool1.gemm(a, b, n, n, n, { out: c });
      const s1 = (performance.now() - t0) / 1e3;
      t0 = performance.now();
      await pool2.gemm(a, b, n, n, n, { out: c });
      const s2 = (performance.now() - t0) / 1e3;
      t1.push(s1);
      t2.push(s2);
      ratio.push(s1 / s2);
    }
    record(`pool gemm ${dt}`, "1 worker", `${n}^3`, "GFLOP/s", flops, t1);
    record(`pool gemm ${dt}`, `${pool2.size} workers`, `${n}^3`, "GFLOP/s", flops, t2);
    const st = stats(ratio);
    rows.push({ bench: `pool gemm ${dt} speed-up`, backend: `${pool2.size} vs 1 worker`, size: `${n}^3`, unit: "x", ...st, target: ">= 1.7", note: "per interleaved pair" });
    pool1.free(a);
    pool1.free(b);
    pool1.free(c);
  }
}

function benchNumpy(): void {
  const py = `
import numpy as np, time, json
def med(f, reps):
    f(); f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    ts.sort(); return ts[len(ts)//2]
out = {}
n = ${QUICK ? 1 << 20 : (64 << 20) / 8}
a = np.ones(n); b = np.full(n, 1e-9)
def add(): np.add(a, b, out=a)
out["reduce"] = n * 24 / med(add, ${REPS}) / 1e9
for dt in ("float32", "float64"):
    m = ${QUICK ? 256 : 512}
    A = np.random.rand(m, m).astype(dt); B = np.random.rand(m, m).astype(dt)
    out["gemm_" + dt] = 2 * m**3 / med(lambda: A @ B, ${REPS}) / 1e9
print(json.dumps(out))
`;
  try {
    execFileSync("python3", ["-c", "import numpy"], { stdio: "ignore" });
  } catch {
    rows.push({ bench: "numpy", backend: "numpy", size: "", unit: "", median: NaN, min: NaN, max: NaN, target: "", note: "numpy not available" });
    return;
  }
  // Single-threaded BLAS for a like-for-like single-thread comparison.
  const env = { ...process.env, OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1", MKL_NUM_THREADS: "1" };
  const res = JSON.parse(execFileSync("python3", ["-c", py], { encoding: "utf8", env }).trim()) as { reduce: number; gemm_float32: number; gemm_float64: number };
  const ver = execFileSync("python3", ["-c", "import numpy; print(numpy.__version__)"], { encoding: "utf8" }).trim();
  const ours = (bench: string, backend: string): number => rows.find((r) => r.bench === bench && r.backend === backend)?.median ?? NaN;
  const add = (bench: string, np: number, mine: number, unit: string): void => {
    rows.push({
      bench: `${bench} (numpy ${ver}, 1 thread)`,
      backend: "numpy",
      size: "",
      unit,
      median: np,
      min: np,
      max: np,
      target: "",
      note: `zmpi/numpy = ${(mine / np).toFixed(2)}`,
    });
  };
  add("reduce-into a+=b", res.reduce, ours("reduce-into a+=b", "wasm-simd, in shared memory"), "GB/s");
  add("gemm f32 single-thread", res.gemm_float32, ours("gemm f32 single-thread", "wasm-simd, plain arrays"), "GFLOP/s");
  add("gemm f64 single-thread", res.gemm_float64, ours("gemm f64 single-thread", "wasm-simd, plain arrays"), "GFLOP/s");
}

async function main(): Promise<void> {
  const k = kernels();
  console.log(`backend: ${k.name}${k.reason ? ` (${k.reason})` : ""}; reps ${REPS}${QUICK ? "; QUICK" : ""}; node ${process.version}`);
  const pool1 = createPool({ size: 1 });
  const pool2 = createPool({ size: 2 });
  await Promise.all([pool1.ready(), pool2.ready()]);
  try {
    await benchReduce(pool2);
    await benchGemm();
    await benchScaling(pool1, pool2);
  } finally {
    await Promise.all([pool1.close(), pool2.close()]);
  }
  rows.push(...(await benchEnsemble(REPS, QUICK)));
  benchNumpy();

  const fmt = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : "-");
  const table = new Table({ head: ["benchmark", "backend", "size", "unit", "median", "min", "max", "target", "note"] });
  for (const r of rows) table.push([r.bench, r.backend, r.size, r.unit, fmt(r.median), fmt(r.min), fmt(r.max), r.target, r.note]);
  console.log(table.toString());

  const dir = join(packageRoot(), "bench-results");
  mkdirSync(dir, { recursive: true });
  const esc = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const csv = [
    "bench,backend,size,unit,median,min,max,target,note",
    ...rows.map((r) => [r.bench, r.backend, r.size, r.unit, fmt(r.median), fmt(r.min), fmt(r.max), r.target, r.note].map(esc).join(",")),
  ];
  writeFileSync(join(dir, "kernels.csv"), `${csv.join("\n")}\n`);
  console.log(`wrote ${join(dir, "kernels.csv")}`);
}

await main();
