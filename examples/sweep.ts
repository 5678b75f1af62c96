// A two-stage parameter sweep, the shape of a Parsl workflow: build 2 targets, then 2 samplers on
// each target (each sampler waits for its own target), every result gathered into one table that
// only rank 0 writes, with per-task logs and progress.
//   npx zmpi launch -n 4 examples/sweep.ts [out-dir] [parquet|csv]
//   srun -n 4 node --import tsx examples/sweep.ts [out-dir] [parquet|csv]
// Output: <out-dir>/sweep.<fmt> (the table), a timestamped checkpoint of it, manifest.json,
// metrics.json, and <out-dir>/logs/<task>.log|.err.
import { join } from "node:path";
import { init, type ResultsFormat, type TaskFuture } from "zmpi";

const outDir = process.argv[2] ?? "sweep-out";
const format = (process.argv[3] ?? "parquet") as ResultsFormat;
const world = await init();
const table = world.results(join(outDir, "sweep"), { format }); // every rank; only rank 0 writes
const farm = await world.farm({ logDir: join(outDir, "logs"), retries: 1 }); // collective

if (farm.isMaster) {
  const tasks = new URL("./sweep-tasks.ts", import.meta.url);
  const samplers: TaskFuture<Record<string, unknown>>[] = [];
  for (const [i, name] of ["bimodal", "trimodal"].entries()) {
    const target = farm.submit(tasks, "buildTarget", [{ name, modes: i + 2, seed: 42 + i }], { name: `target-${name}` });
    for (const sampler of [1, 2]) {
      samplers.push(farm.submit(tasks, "runSampler", [{ sampler, steps: 200_000, step: 2.5 }], { after: [target], name: `sampler-${name}-${sampler}` }));
    }
  }
  // Results come back to rank 0 and go straight into the table.
  for (const s of samplers) table.append(await s);
}
const summary = await farm.close(); // collective: workers serve tasks until rank 0 is done
const written = await table.flush(); // collective
const ckpt = await table.checkpoint(); // collective: a frozen copy that later failures cannot touch
world.log.info(`sweep: ${summary?.completed} tasks done, ${summary?.failed} failed; ${written.totalRows} rows in ${written.path}; checkpoint ${ckpt.path}`);
await world.finalize(); // closes the table, writes metrics.json beside it (ZMPI_METRICS=1 prints a table)
