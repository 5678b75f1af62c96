/** The `bench` command's options (commander), shared by `zmpi bench` and `npm run bench`. */
import { Command, InvalidArgumentError, Option } from "commander";
import { ALL_BENCHMARKS, DEFAULT_BATCHES, parseBenchmarks, parseSize, parseSizeList, type BenchmarkName, type CollectiveTiming } from "./plan.js";
import { runBench } from "./run.js";
import { repoRoot } from "./anchors.js";
import { runStartup } from "./startup.js";
import { positiveInt } from "../args.js";

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected an integer >= 0, got "${v}"`);
  return n;
}

/** Wraps a parser so its message reaches the user as commander's usage error. */
function asArg<T>(parse: (v: string) => T): (v: string) => T {
  return (v) => {
    try {
      return parse(v);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  };
}

/** Parsed options. */
interface BenchCliOptions {
  np: number;
  nodes?: number;
  sizes?: number[];
  minSize?: number;
  maxSize?: number;
  iterations?: number;
  warmup?: number;
  jitWarmup?: number;
  timing?: CollectiveTiming;
  benchmarks: BenchmarkName[];
  algorithm?: string;
  raw: boolean;
  rawTransport?: "ipc" | "tcp";
  batches: number;
  out: string;
  name?: string;
  compareAnchors?: boolean;
  anchors?: string;
  liveAnchors: boolean;
  timeout?: number;
  startup?: number[];
  startupPairs: number;
  startupSrun?: boolean;
}

/** "8,32,64" → [8, 32, 64]. */
function rankList(v: string): number[] {
  return v.split(",").map((x) => positiveInt(x.trim()));
}

/** Builds the `bench` command; `setStatus` receives the exit status. */
export function benchCommand(setStatus: (s: number) => void, name = "bench"): Command {
  return new Command(name)
    .description("OSU-style benchmarks: latency, bw (vs bare zeromq.js), allreduce, bcast, reduce, allgather, alltoall, barrier")
    .option("-n, --np <N>", "number of ranks", positiveInt, 2)
    .option("--nodes <K>", "spread the ranks over K pretend nodes (in blocks, as Slurm does; TCP between them)", positiveInt)
    .option("--sizes <list>", "message sizes, e.g. 8,1K,1M,64M (K/M/G are binary)", asArg(parseSizeList))
    .option("--min-size <size>", "smallest size of the power-of-two sweep (default 8)", asArg(parseSize))
    .option("--max-size <size>", "largest size of the sweep (default 16M for latency/bw, 64M for collectives)", asArg(parseSize))
    .option("-i, --iterations <N>", "timed iterations at every size (default: 1000, 100 from 1 MiB, 20 from 16 MiB; bw windows 100/50/20)", positiveInt)
    .option("-x, --warmup <N>", "untimed warm-up iterations at every size (default: a tenth of the timed ones, at least 3000 below 1 MiB but for bw)", nonNegativeInt)
    .addOption(
      new Option("--timing <mode>", "collectives: batch = calls back to back in timed batches (as the anchors), osu = a barrier before every call")
        .choices(["batch", "osu"])
        .default("batch"),
    )
    .option("--jit-warmup <S>", "seconds of untimed small-message traffic first, so V8 has optimized the message path (default 2; 0: none)", nonNegativeInt)
    .addOption(
      new Option("-b, --benchmarks <list>", `comma list of ${ALL_BENCHMARKS.join(", ")} (or all, p2p, collectives)`)
        .argParser(asArg(parseBenchmarks))
        .default([...ALL_BENCHMARKS], "all"),
    )
    .option("--algorithm <name>", "force a collective algorithm: passed to every rank as ZMPI_ALGORITHM")
    .option("--no-raw", "skip the bare zeromq.js baseline for latency and bw")
    .addOption(new Option("--raw-transport <t>", "transport of the bare zeromq.js pair (default ipc; tcp with --nodes)").choices(["ipc", "tcp"]))
    .option("--batches <N>", "timed batches per size; min/max are over batches", positiveInt, DEFAULT_BATCHES)
    .option("--out <dir>", "output folder", "bench-results")
    .option("--name <base>", "file base name (default osu-np<N>)")
    .option("--compare-anchors", "compare with ../shared/anchors/results.json (Open MPI, mpi4py, gloo on this machine)")
    .option("--anchors <path>", "anchors file for --compare-anchors")
    .option("--no-live-anchors", "with --compare-anchors: do not run Open MPI's mpi_bench.c now (it runs before and after ours when mpirun is here)")
    .option("--timeout <S>", "stop the job after S seconds", positiveInt, 3600)
    .option("--startup <list>", "instead: time start-up of an init/finalize hello at these rank counts (e.g. 8,32,64) against mpirun of mpi4py, pair by pair", rankList)
    .option("--startup-pairs <N>", "--startup: zmpi/mpirun pairs per rank count", positiveInt, 3)
    .option("--startup-srun", "--startup: start zmpi with srun -N2 -O (the local Slurm cluster) instead of zmpi launch")
    .action(async (o: BenchCliOptions) => {
      if (o.startup) {
        setStatus(await runStartup({ ranks: o.startup, pairs: o.startupPairs, srun: o.startupSrun, root: repoRoot(), out: o.out }));
        return;
      }
      const outcome = await runBench({
        np: o.np,
        nodes: o.nodes,
        sizes: o.sizes,
        minSize: o.minSize,
        maxSize: o.maxSize,
        iterations: o.iterations,
        warmup: o.warmup,
        jitWarmup: o.jitWarmup,
        timing: o.timing,
        benchmarks: o.benchmarks,
        algorithm: o.algorithm,
        raw: o.raw,
        rawTransport: o.rawTransport,
        batches: o.batches,
        out: o.out,
        name: o.name,
        compareAnchors: o.compareAnchors,
        anchorsPath: o.anchors,
        liveAnchors: o.liveAnchors,
        timeoutSec: o.timeout,
        command: process.argv.slice(1).join(" "),
      });
      setStatus(outcome.code);
    });
}
