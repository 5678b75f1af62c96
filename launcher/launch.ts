/**
 * `zmpi launch`: a local mpirun. Starts N ranks of a script on this machine, gives each its
 * environment (zmpi's own variables, or real `SLURM_*` names with `--slurm-env`), prefixes every
 * output line with the rank, forwards SIGINT/SIGTERM, and when a rank fails stops the others and
 * exits with that rank's status, like `mpirun` and `srun -K`.
 *
 * Each rank also tells the launcher, on a pipe of its own (fd 3, `ZMPI_LAUNCH_FD`), when it starts
 * rendezvous and when it has joined. A rank that exits before joining (whatever its status) while
 * another waits for it at rendezvous dooms the job: the launcher stops it at once rather than let
 * the others wait for the rendezvous deadline, as mpirun does with a rank that never reaches
 * MPI_Init's end.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { isTypeScriptModule, nodeStripsTypes, tsxEntryUrl } from "../src/compute/ts-loader.js";
import { COORD_PORT_BASE } from "../src/env/coord-port.js";
import { compressHostlist } from "../src/env/hostlist.js";
import { UsageError } from "../src/errors.js";

/** Options of {@link launch}. */
export interface LaunchOptions {
  /** Number of ranks. */
  np: number;
  /** Pretend nodes (ranks are spread over them in blocks, like Slurm). Default 1. */
  nodes?: number;
  /** Kill the job after this many seconds. */
  timeoutSec?: number;
  /** Give the ranks real `SLURM_*` variables instead of zmpi's. */
  slurmEnv?: boolean;
  /** Stop the other ranks when one exits non-zero (default true, like `srun -K`); false leaves it to the ranks themselves. */
  killOnBadExit?: boolean;
  /** Prefix each output line with `[rank] ` (default true). */
  prefix?: boolean;
  /** Script and its arguments. */
  script: string;
  args?: string[];
  /** Extra environment for every rank. */
  env?: Record<string, string>;
  /** Ask glibc for transparent huge pages on large allocations (default true; see {@link withHugePages}). */
  hugePages?: boolean;
  /** Extra environment for one rank, applied last (tests use it to break one rank on purpose). */
  rankEnv?: (rank: number) => Record<string, string>;
  /** Called as each rank ends, with its exit status (128 + signal number when killed, 127 when it could not start). */
  onRankExit?: (rank: number, status: number) => void;
  /** Where output goes (tests capture it). */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

/** Block distribution of `np` tasks over `nodes` nodes, as Slurm does it. */
export function blockLayout(np: number, nodes: number): number[] {
  const base = Math.floor(np / nodes);
  const extra = np % nodes;
  return Array.from({ length: nodes }, (_, i) => base + (i < extra ? 1 : 0));
}

/** Slurm's compressed tasks-per-node form: [2,2,1] → "2(x2),1". */
export function formatTasksPerNode(counts: number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < counts.length) {
    let j = i;
    while (j + 1 < counts.length && counts[j + 1] === counts[i]) j++;
    const n = j - i + 1;
    parts.push(n > 1 ? `${counts[i]}(x${n})` : `${counts[i]}`);
    i = j + 1;
  }
  return parts.join(",");
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/**
 * A free coordinator port in 61440–65535, like Slurm jobs get: above Linux's ephemeral range,
 * where every rank's `tcp://addr:*` data socket lands, so another job's ranks cannot take it
 * between this check and the coordinator's bind (an ephemeral pick could, and did under load).
 */
async function freePort(): Promise<number> {
  const span = 65536 - COORD_PORT_BASE;
  const start = randomBytes(2).readUInt16BE(0) % span;
  for (let i = 0; i < 64; i++) {
    const port = COORD_PORT_BASE + ((start + i * 97) % span);
    if (await portIsFree(port)) return port;
  }
  throw new Error(`no free coordinator port found in ${COORD_PORT_BASE}-65535`);
}

/**
 * The node command for a script. TypeScript runs through tsx (an optional peer dependency): the
 * one the script's project has, else the working directory's, else the one beside zmpi. Without
 * tsx, a Node that strips types itself runs the script as is; any other gets a UsageError saying
 * what to install.
 */
export function nodeArgsFor(script: string): string[] {
  if (!isTypeScriptModule(script)) return [script];
  const tsx = tsxEntryUrl(".", [resolve(script), join(process.cwd(), "noop.js"), import.meta.url]);
  if (tsx !== null) return ["--import", tsx, script];
  if (nodeStripsTypes()) return [script];
  throw new UsageError(
    `${script} is TypeScript, and zmpi runs TypeScript through tsx, which is not installed here (nor beside zmpi). ` +
      `Add it to your project (npm install --save-dev tsx), or run a compiled .js/.mjs program.`,
    { op: "launch" },
  );
}

/** The descriptor on which a rank reports its rendezvous progress to the launcher. */
const LAUNCH_FD = 3;

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15, SIGABRT: 6 };

function rankEnv(opts: LaunchOptions, rank: number, layout: number[], names: string[], job: { id: string; port: number; secret: string }): Record<string, string> {
  let node = 0;
  let first = 0;
  while (rank >= first + layout[node]!) first += layout[node++]!;
  const common: Record<string, string> = {
    ZMPI_SECRET: job.secret,
    ZMPI_COORD_ADDR: "127.0.0.1",
    ZMPI_COORD_PORT: String(job.port),
    ZMPI_HOST_ADDR: "127.0.0.1",
    ZMPI_PREFIXED: opts.prefix === false ? "0" : "1",
    ZMPI_LAUNCH_FD: String(LAUNCH_FD),
  };
  if (opts.slurmEnv) {
    const nodelist = compressHostlist(names);
    const tpn = formatTasksPerNode(layout);
    return {
      ...common,
      SLURM_JOB_ID: job.id,
      SLURM_JOBID: job.id,
      SLURM_STEP_ID: "0",
      SLURM_STEPID: "0",
      SLURM_PROCID: String(rank),
      SLURM_NTASKS: String(opts.np),
      SLURM_NPROCS: String(opts.np),
      SLURM_STEP_NUM_TASKS: String(opts.np),
      SLURM_LOCALID: String(rank - first),
      SLURM_NODEID: String(node),
      SLURMD_NODENAME: names[node]!,
      SLURM_JOB_NODELIST: nodelist,
      SLURM_NODELIST: nodelist,
      SLURM_STEP_NODELIST: nodelist,
      SLURM_JOB_NUM_NODES: String(layout.length),
      SLURM_NNODES: String(layout.length),
      SLURM_STEP_NUM_NODES: String(layout.length),
      SLURM_TASKS_PER_NODE: tpn,
      SLURM_STEP_TASKS_PER_NODE: tpn,
    };
  }
  return {
    ...common,
    ZMPI_RANK: String(rank),
    ZMPI_SIZE: String(opts.np),
    ZMPI_LOCAL_RANK: String(rank - first),
    ZMPI_LOCAL_SIZE: String(layout[node]),
    ZMPI_NODE_INDEX: String(node),
    ZMPI_NUM_NODES: String(layout.length),
    ZMPI_NODE_NAME: names[node]!,
    ZMPI_JOB_ID: job.id,
  };
}

/** The glibc tunable that makes malloc madvise its large mappings for transparent huge pages. */
const HUGE_PAGES_TUNABLE = "glibc.malloc.hugetlb=1";

/**
 * Adds {@link HUGE_PAGES_TUNABLE} to `GLIBC_TUNABLES` unless it already says something about
 * `glibc.malloc.hugetlb`. Node's large ArrayBuffers then sit on 2 MiB pages (the kernel's THP mode
 * is madvise here): far fewer page faults on first touch and less page-table work in cross-memory
 * reads. Measured at np=2 (bench, same runs interleaved): 16 MiB bandwidth 3.6-4.2 -> 5.1-5.9 GB/s,
 * 64 MiB allreduce 53 -> 40-43 ms. The anchors' THP columns were measured the same way. Other C
 * libraries and systems ignore the variable.
 */
export function withHugePages(env: Record<string, string>): Record<string, string> {
  const cur = env.GLIBC_TUNABLES ?? "";
  if (cur.includes("glibc.malloc.hugetlb")) return env;
  return { ...env, GLIBC_TUNABLES: cur ? `${cur}:${HUGE_PAGES_TUNABLE}` : HUGE_PAGES_TUNABLE };
}

/** Inherited variables that would make a rank believe it is something else. */
function cleanEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (/^(SLURM_|SLURMD_|OMPI_COMM_WORLD_|PMI_|PMIX_)/.test(k)) continue;
    if (/^(ZMPI_(RANK|SIZE|LOCAL_RANK|LOCAL_SIZE|NODE_INDEX|NUM_NODES|NODE_NAME|JOB_ID|COORD_ADDR|COORD_PORT|SECRET|HOST_ADDR|LAUNCHER|PREFIXED|LAUNCH_FD))$/.test(k)) continue;
    if (/^(RANK|WORLD_SIZE|LOCAL_RANK|LOCAL_WORLD_SIZE|GROUP_RANK|MASTER_ADDR|MASTER_PORT)$/.test(k)) continue;
    out[k] = v;
  }
  return out;
}

function pipeLines(src: NodeJS.ReadableStream, dst: NodeJS.WritableStream, prefix: string): Promise<void> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: src, crlfDelay: Infinity });
    rl.on("line", (line) => dst.write(`${prefix + line}\n`));
    rl.on("close", () => resolve());
  });
}

/** Runs the job; resolves with the exit status the launcher should return. */
export async function launch(opts: LaunchOptions): Promise<number> {
  const np = opts.np;
  const nodes = opts.nodes ?? 1;
  if (!Number.isInteger(np) || np < 1) throw new Error(`-n must be a positive integer, got ${np}`);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > np) throw new Error(`--nodes must be an integer from 1 to ${np} (the rank count), got ${nodes}`);
  const nodeArgs = [...nodeArgsFor(opts.script), ...(opts.args ?? [])];
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const layout = blockLayout(np, nodes);
  // One pretend node is this machine under its own name; several get distinct names so the
  // node-aware paths (tcp between nodes, node-local groups) are exercised.
  const names = nodes === 1 ? [hostname()] : Array.from({ length: nodes }, (_, i) => `node${i}`);
  const job = {
    id: opts.slurmEnv ? String(100000 + (randomBytes(3).readUIntBE(0, 3) % 900000)) : randomBytes(6).toString("hex"),
    port: await freePort(),
    secret: randomBytes(24).toString("hex"),
  };
  const base = opts.hugePages === false ? cleanEnv() : withHugePages(cleanEnv());
  const children: ChildProcess[] = [];
  const pipes: Promise<void>[] = [];
  let status: number | null = null;
  let stopping = false;
  let killTimer: NodeJS.Timeout | undefined;

  const stopAll = (signal: NodeJS.Signals) => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
    if (!killTimer) {
      killTimer = setTimeout(() => {
        for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
      }, 3000);
      killTimer.unref();
    }
  };

  // Rendezvous progress per rank, and the ranks that ended before joining.
  const joining: Array<"started" | "rendezvous" | "joined"> = new Array(np).fill("started");
  const endedEarly = new Map<number, string>();
  const alive = (r: number) => children[r] !== undefined && children[r]!.exitCode === null && children[r]!.signalCode === null;
  const checkEarly = () => {
    if (stopping || opts.killOnBadExit === false || endedEarly.size === 0) return;
    const waiting = joining.flatMap((st, r) => (st === "rendezvous" && alive(r) ? [r] : []));
    if (waiting.length === 0) return;
    const [r, how] = [...endedEarly][0]!;
    stopping = true;
    if (status === null) status = 1;
    stderr.write(
      `zmpi launch: rank ${r} ${how} before it joined the job, while rank${waiting.length > 1 ? "s" : ""} ${waiting.join(", ")} waited for it at rendezvous; stopping the other ranks\n`,
    );
    stopAll("SIGTERM");
  };

  const exits = Array.from({ length: np }, (_, rank) => {
    const child = spawn(process.execPath, nodeArgs, {
      env: { ...base, ...(opts.env ?? {}), ...rankEnv(opts, rank, layout, names, job), ...(opts.rankEnv?.(rank) ?? {}) },
      stdio: ["ignore", "pipe", "pipe", "pipe"],
    });
    children.push(child);
    const prefix = opts.prefix === false ? "" : `[${rank}] `;
    pipes.push(pipeLines(child.stdout!, stdout, prefix), pipeLines(child.stderr!, stderr, prefix));
    // Every report is read before the exit is judged: the report pipe closes when the rank ends.
    const reports = new Promise<void>((resolve) => {
      const rl = createInterface({ input: child.stdio[LAUNCH_FD] as NodeJS.ReadableStream, crlfDelay: Infinity });
      rl.on("line", (line) => {
        if (line === `rendezvous ${rank}` && joining[rank] === "started") joining[rank] = "rendezvous";
        else if (line === `joined ${rank}`) joining[rank] = "joined";
        checkEarly();
      });
      rl.on("close", () => resolve());
    });
    const ended = new Promise<string>((resolve) => child.on("exit", (code, signal) => resolve(signal ? `was killed by ${signal}` : `exited with status ${code}`)));
    void Promise.all([reports, ended]).then(([, how]) => {
      if (joining[rank] === "joined") return;
      endedEarly.set(rank, how);
      checkEarly();
    });
    return new Promise<void>((resolve) => {
      child.on("error", (e) => {
        stderr.write(`zmpi launch: cannot start rank ${rank}: ${e.message}\n`);
        if (status === null) status = 127;
        opts.onRankExit?.(rank, 127);
        stopping = true;
        stopAll("SIGTERM");
        resolve();
      });
      child.on("exit", (code, signal) => {
        const st = code ?? 128 + (SIGNAL_NUMBERS[signal ?? ""] ?? 1);
        opts.onRankExit?.(rank, st);
        if (st !== 0 && status === null) status = st;
        if (st !== 0 && !stopping && opts.killOnBadExit !== false) {
          stopping = true;
          stderr.write(`zmpi launch: rank ${rank} exited with ${signal ? `signal ${signal}` : `status ${code}`}; stopping the other ranks\n`);
          stopAll("SIGTERM");
        }
        resolve();
      });
    });
  });

  const forward = (sig: NodeJS.Signals) => () => {
    if (status === null) status = 128 + (SIGNAL_NUMBERS[sig] ?? 1);
    stopping = true;
    stopAll(sig);
  };
  const onInt = forward("SIGINT");
  const onTerm = forward("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  let wallTimer: NodeJS.Timeout | undefined;
  if (opts.timeoutSec !== undefined) {
    wallTimer = setTimeout(() => {
      stderr.write(`zmpi launch: time limit of ${opts.timeoutSec} s reached; stopping all ranks\n`);
      if (status === null) status = 124;
      stopping = true;
      stopAll("SIGTERM");
    }, opts.timeoutSec * 1000);
  }
  try {
    await Promise.all(exits);
    await Promise.all(pipes);
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
    clearTimeout(wallTimer);
    clearTimeout(killTimer);
  }
  return status ?? 0;
}
