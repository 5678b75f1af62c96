/**
 * `zmpi advise`: the layout and pre-flight checks of src/ensemble/advise.ts for a problem on this
 * machine, on the Slurm allocation it runs in, or on one about to be requested
 * (`--nodes/--ntasks-per-node/--cpus-per-task`). Exit status 2 when a check refuses the layout.
 */
import { Command, InvalidArgumentError } from "commander";
import Table from "cli-table3";
import { advise, type Advice, type Problem, type Resources } from "../src/ensemble/advise.js";
import { detectResources, hostFacts } from "../src/ensemble/resources.js";
import { positiveInt } from "./args.js";

const UNITS: Record<string, number> = { "": 1, B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** A memory size: bytes, or a number with K/M/G/T (binary, as Slurm: 512M, 2G, 1.5GiB). */
export function parseSize(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*$/i.exec(v);
  if (!m) throw new InvalidArgumentError(`expected a size like 512M or 2G, got "${v}"`);
  return Math.round(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
}

/** Options as commander gives them: the problem, and an allocation to request. */
interface AdviseFlags extends Problem {
  nodes?: number;
  ntasksPerNode?: number;
  cpusPerTask?: number;
  cpusPerNode?: number;
  mem?: number;
  json?: boolean;
}

/** The resources the flags describe: a request when any allocation flag is given, else detected. */
export function resourcesFrom(f: AdviseFlags, env: Record<string, string | undefined> = process.env): Resources {
  const asked = f.nodes !== undefined || f.ntasksPerNode !== undefined || f.cpusPerTask !== undefined || f.cpusPerNode !== undefined || f.mem !== undefined;
  if (!asked) return detectResources(env);
  const cpusPerNode = f.cpusPerNode ?? (f.ntasksPerNode !== undefined && f.cpusPerTask !== undefined ? f.ntasksPerNode * f.cpusPerTask : hostFacts().cpus);
  return { source: "request", nodes: f.nodes ?? 1, cpusPerNode, tasksPerNode: f.ntasksPerNode, cpusPerTask: f.cpusPerTask, memPerNode: f.mem };
}

function size(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${Math.ceil(bytes / 2 ** 20)} MiB`;
}

/** The advice as text. */
function formatAdvice(a: Advice): string {
  const r = a.resources;
  const l = a.layout;
  const from =
    r.source === "machine"
      ? `this machine: ${r.cpusPerNode} CPUs, ${r.memPerNode !== undefined ? size(r.memPerNode) : "?"} available, load ${r.load?.toFixed(1) ?? "?"}`
      : `${r.source === "slurm" ? "the Slurm allocation" : "the requested allocation"}: ${r.nodes} node(s) × ${r.cpusPerNode} CPUs${r.memPerNode !== undefined ? `, ${size(r.memPerNode)} per node` : ""}`;
  const t = new Table({ head: ["layout", ""], style: { head: [], border: [] } });
  t.push(
    ["ranks", `${l.ranks} on ${l.nodes} node(s), ${l.ranksPerNode} per node`],
    ["pool per rank", `${l.poolSize} thread(s)`],
    ["state groups", `${l.groups} × ${l.ranksPerGroup} rank(s)`],
  );
  const pair = (p: [number, number]) => (p[0] === p[1] ? `${p[0]}` : `${p[1]}–${p[0]}`);
  if (l.statesPerGroup) t.push(["states per group", pair(l.statesPerGroup)]);
  if (l.walkersPerRank) t.push(["walkers per rank", pair(l.walkersPerRank)]);
  if (l.particlesPerRank) t.push(["particles per rank", pair(l.particlesPerRank)]);
  t.push(["memory", `${size(l.memPerRank)} per rank, ${size(l.memPerNode)} per node`]);
  const mark = { ok: "ok  ", warn: "WARN", error: "FAIL" } as const;
  return [
    `resources: ${from}`,
    t.toString(),
    `run:   ${a.commands.launch}`,
    `srun:  ${a.commands.srun}`,
    `sbatch: ${a.commands.sbatch.join("\n        ")}`,
    ...a.checks.map((c) => `${mark[c.level]} ${c.rule}: ${c.message}`),
    a.ok ? "advice: ok to run" : "advice: REFUSED (see FAIL above)",
  ].join("\n");
}

/** Runs the advice for `f`; writes it and returns the exit status (2 when refused). */
export function runAdvise(f: AdviseFlags, out: NodeJS.WritableStream = process.stdout, env: Record<string, string | undefined> = process.env): number {
  const a = advise(f, resourcesFrom(f, env));
  out.write(`${f.json ? JSON.stringify(a, null, 2) : formatAdvice(a)}\n`);
  return a.ok ? 0 : 2;
}

/** The `advise` command. */
export function adviseCommand(setStatus: (s: number) => void): Command {
  return new Command("advise")
    .description("recommend a layout (ranks, state groups, pool size, srun/sbatch lines) and check divisibility, memory and oversubscription")
    .option("--states <S>", "independent states (chains, models)", positiveInt)
    .option("--walkers <W>", "walkers per state", positiveInt)
    .option("--particles <N>", "particles sharded over all ranks", positiveInt)
    .option("--dim <D>", "dimension of a walker or particle", positiveInt)
    .option("--mem-per-task <SIZE>", "memory each rank needs for its own data (512M, 2G)", parseSize)
    .option("-n, --ranks <R>", "ranks wanted (default: chosen from the resources)", positiveInt)
    .option("--nodes <K>", "nodes of an allocation to request", positiveInt)
    .option("--ntasks-per-node <T>", "ranks per node of an allocation to request", positiveInt)
    .option("--cpus-per-task <C>", "CPUs per rank (pool size) of an allocation to request", positiveInt)
    .option("--cpus-per-node <C>", "CPUs each node has (default: tasks × CPUs per task, else this machine's)", positiveInt)
    .option("--mem <SIZE>", "memory per node of an allocation to request", parseSize)
    .option("--script <FILE>", "the program, for the printed commands", "app.ts")
    .option("--json", "print JSON")
    .action((o: AdviseFlags) => setStatus(runAdvise(o)));
}
