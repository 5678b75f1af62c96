// A two-stage parameter sweep, the shape of a Parsl workflow: build 2 targets, then 2 samplers on
// each target (each sampler waits for its own target), the samplers' results gathered into one
// table that only rank 0 writes, with per-task logs (logs/build_target/<t>.log,
// logs/sampler/<t>/<n>.log) and progress. Build results stay out of the table (record: false).
//   npx zmpi launch -n 4 examples/sweep.ts [out-dir] [parquet|csv]
//   srun -n 4 node --import tsx examples/sweep.ts [out-dir] [parquet|csv]
// On Slurm, as one job, or as one job per stage (the samplers' job waits with --dependency=afterok):
//   npx zmpi experiment examples/sweep-job.json          # --stage all
//   npx zmpi experiment examples/sweep-stages.json       # --stage targets, then --stage samplers
// --stage targets writes <out-dir>/targets/<name>.json; --stage samplers reads them from
// --targets-from <dir> (a path, or the name of the targets job in the same run).
// Output: <out-dir>/sweep.<fmt> (the table), a timestamped checkpoint of it, manifest.json,
// metrics.json, and <out-dir>/logs/.
import { readdirSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { init, type ResultsFormat, type TaskFuture } from "zmpi";
import { writeTargetFile, type Target } from "./sweep-tasks.js";

const flags = new Map<string, string>();
const positional: string[] = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i]!.startsWith("--")) flags.set(argv[i]!.slice(2), argv[++i] ?? "");
  else positional.push(argv[i]!);
}
const stage = flags.get("stage") ?? "all";
if (!["all", "targets", "samplers"].includes(stage)) throw new Error(`--stage must be all, targets or samplers, got "${stage}"`);
// Under `zmpi submit`, the job's directory (ZMPI_EXP_DIR) is the output directory.
const outDir = positional[0] ?? process.env.ZMPI_EXP_DIR ?? "sweep-out";
const format = (positional[1] ?? "parquet") as ResultsFormat;
const TARGETS = [
  { name: "bimodal", modes: 2, seed: 42 },
  { name: "trimodal", modes: 3, seed: 43 },
];
const SAMPLERS = [1, 2];

const world = await init();
const table = stage === "targets" ? null : world.results(join(outDir, "sweep"), { format }); // every rank; only rank 0 writes
const farm = await world.farm({ logDir: join(outDir, "logs"), retries: 1, ...(table ? { results: table } : {}) }); // collective

if (farm.isMaster) {
  const tasks = new URL("./sweep-tasks.ts", import.meta.url);
  const sampler = (t: string, n: number, target: TaskFuture<Target> | Target) =>
    farm.submit(tasks, "runSampler", [{ sampler: n, steps: 200_000, step: 2.5, ...("means" in target ? { target } : {}) }], {
      ...("means" in target ? {} : { after: [target] }),
      name: `sampler/${t}/${n}`,
    });
  const pending: PromiseLike<unknown>[] = [];
  if (stage === "samplers") {
    // Stage 2 alone: the targets come from stage 1's files.
    const from = flags.get("targets-from") ?? "targets";
    const dir = isAbsolute(from) || from.includes("/") ? join(from, "targets") : join(process.env.ZMPI_EXP_DIR ? join(process.env.ZMPI_EXP_DIR, "..") : ".", from, "targets");
    const files = readdirSync(dir)
      .filter((f) => f.endsWith(".json"))
      .sort();
    if (files.length === 0) throw new Error(`no targets in ${dir}: run --stage targets first`);
    for (const f of files) {
      const t = JSON.parse(readFileSync(join(dir, f), "utf8")) as Target;
      for (const n of SAMPLERS) pending.push(sampler(t.name, n, t));
    }
  } else {
    for (const spec of TARGETS) {
      // record: false keeps the build step's result out of the table: only sampler rows go in.
      const target = farm.submit<Target>(tasks, "buildTarget", [spec], { name: `build_target/${spec.name}`, record: false });
      if (stage === "targets") pending.push(target.then((t) => writeTargetFile(join(outDir, "targets"), t)));
      else for (const n of SAMPLERS) pending.push(sampler(spec.name, n, target));
    }
  }
  await Promise.all(pending);
}
const summary = await farm.close(); // collective: workers serve tasks until rank 0 is done
if (table) {
  const written = await table.flush(); // collective
  const ckpt = await table.checkpoint(); // collective: a frozen copy that later failures cannot touch
  world.log.info(`sweep: ${summary?.completed} tasks done, ${summary?.failed} failed; ${written.totalRows} rows in ${written.path}; checkpoint ${ckpt.path}`);
} else {
  world.log.info(`sweep (targets): ${summary?.completed} tasks done, ${summary?.failed} failed; targets in ${join(outDir, "targets")}`);
}
await world.finalize(); // closes the table, writes metrics.json beside it (ZMPI_METRICS=1 prints a table)
