/**
 * Node-aware collectives, A/B in one job: allreduce (8 B, 64 MiB), bcast (8 MiB, as mpi_bench.c)
 * and barrier, each timed with the hierarchical algorithm and with the flat one the chooser would
 * take without a layout, alternating which goes first on each repetition so both see the same
 * moment of a shared machine. A rank program:
 *
 *   node launcher/bin.mjs launch --nodes 2 -n 4 launcher/bench/node-aware.ts [reps]
 *
 * Rank 0 prints one JSON line per (rep, benchmark, algorithm): `us` is the slowest rank's wall
 * time per call (mpi_bench.c's statistic), `cpu_us` the CPU time per call summed over ranks.
 */
import { init, Op } from "../../src/index.js";

const world = await init();
const reps = Number(process.argv[2] ?? 3);

interface Case {
  bench: string;
  bytes: number;
  iters: number;
  flat: string;
  run: (algorithm: string) => Promise<unknown>;
}

const small = new Float64Array(1);
const big = new Float64Array(8 << 20).fill(world.rank + 1);
const bigOut = new Float64Array(8 << 20);
const bc = new Float64Array(1 << 20).fill(world.rank);
const CASES: Case[] = [
  { bench: "allreduce", bytes: 8, iters: 200, flat: "recursive-doubling", run: (algorithm) => world.allreduce(small, Op.SUM, { algorithm }) },
  { bench: "allreduce", bytes: 64 << 20, iters: 3, flat: "ring", run: (algorithm) => world.allreduce(big, Op.SUM, { algorithm, out: bigOut }) },
  { bench: "bcast", bytes: 8 << 20, iters: 10, flat: "scatter-allgather", run: (algorithm) => world.bcast(bc, 0, { algorithm }) },
  { bench: "barrier", bytes: 0, iters: 200, flat: "dissemination", run: (algorithm) => world.barrier({ algorithm }) },
];

async function timed(c: Case, algorithm: string): Promise<{ us: number; cpuUs: number }> {
  await c.run(algorithm); // warm-up
  await world.barrier({ algorithm: "dissemination" });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < c.iters; i++) await c.run(algorithm);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const slowest = await world.allreduce(ms, Op.MAX, { algorithm: "recursive-doubling" });
  const cpuSum = await world.allreduce((cpu.user + cpu.system) / c.iters, Op.SUM, { algorithm: "recursive-doubling" });
  return { us: (slowest * 1000) / c.iters, cpuUs: cpuSum };
}

const layout = (await world.allgather(world.node)).join(",");
for (let rep = 0; rep < reps; rep++) {
  for (const c of CASES) {
    const order = rep % 2 === 0 ? ["hierarchical", c.flat] : [c.flat, "hierarchical"];
    for (const algorithm of order) {
      const { us, cpuUs } = await timed(c, algorithm);
      if (world.rank === 0)
        console.log(JSON.stringify({ impl: "zmpi", np: world.size, layout, rep, bench: c.bench, bytes: c.bytes, algorithm, us: +us.toFixed(1), cpu_us: +cpuUs.toFixed(1) }));
    }
  }
}
await world.finalize();
