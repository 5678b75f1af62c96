/**
 * `--startup 8,32,64`: how long a job takes to start and end, against the reference every MPI user
 * knows. For each rank count, in pairs run back to back in the same minutes (this 2-core VM is
 * shared and its speed drifts; a ratio within a pair holds where absolute times do not):
 *
 * - zmpi: `zmpi launch -n N` (or `srun -N2 -n N -O` with `--startup-srun`) of a compiled hello that
 *   calls `init()` and `finalize()`, importing the build in dist/ as a user's `import "zmpi"` does
 *   (the file package.json's `exports` names: the bundle, scripts/bundle.mjs);
 * - MPI: `mpirun --oversubscribe -np N python3 -c "from mpi4py import MPI"` (MPI_Init and
 *   MPI_Finalize through mpi4py), when mpirun and a Python with mpi4py are on the machine.
 *
 * Wall time from spawn to exit, and CPU time (user + system) summed over every process of the job:
 * the shell's `times` of its children for `zmpi launch` and mpirun (which reap their ranks), the
 * ranks' own account for srun (whose tasks are children of slurmd). CPU time is the steadier
 * figure on a loaded machine. `uptime`'s load is recorded before and after.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** Options of {@link runStartup}. */
export interface StartupOptions {
  /** Rank counts, e.g. [8, 32, 64]. */
  ranks: number[];
  /** Pairs per rank count (default 3). */
  pairs?: number;
  /** Time zmpi under `srun -N2 -O` instead of `zmpi launch`. */
  srun?: boolean;
  /** The repository root (dist/ and launcher/bin.mjs are found there). */
  root: string;
  /** Output folder for startup.json. */
  out: string;
  /** Deadline of one run, s (default 300): on expiry the run is killed and counted as failed. */
  runTimeoutSec?: number;
  stdout?: NodeJS.WritableStream;
}

/** One timed run. */
export interface StartupRun {
  wallS: number;
  /** CPU seconds summed over the job's processes, or null when they could not be counted. */
  cpuS: number | null;
  code: number | null;
}

/** One pair: zmpi, then the MPI reference (null when it is not on the machine). */
export interface StartupPair {
  np: number;
  zmpi: StartupRun;
  mpi: StartupRun | null;
}

interface Cmd {
  argv: string[];
  env?: Record<string, string>;
  /** Where the job's CPU time is read: the shell's `times`, or `cpu <ms>` lines the ranks print. */
  cpu: "times" | "ranks";
}

/** The hello every zmpi rank runs: init, finalize, and its CPU time on stdout. */
function helloSource(distIndex: string): string {
  return [
    `import { init } from ${JSON.stringify(pathToFileURL(distIndex).href)};`,
    "const world = await init();",
    "await world.finalize();",
    "const u = process.cpuUsage();",
    'console.log("cpu " + (u.user + u.system) / 1000);',
    "",
  ].join("\n");
}

/** The file `import "zmpi"` loads: package.json's `exports["."]`, in the repository at `root`. */
function packageEntry(root: string): string {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { exports: Record<string, { default: string }> };
  return join(root, pkg.exports["."]!.default);
}

/** A Python that imports mpi4py, or null. */
function pythonWithMpi4py(): string | null {
  for (const py of ["python3", "/usr/bin/python3"]) {
    const r = spawnSync(py, ["-c", "import mpi4py"], { stdio: "ignore", timeout: 30_000 });
    if (r.status === 0) return py;
  }
  return null;
}

function onPath(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** Seconds in `times` output ("0m1.250s"). */
function timesSeconds(s: string): number {
  const m = /^(\d+)m([\d.]+)s$/.exec(s);
  return m ? Number(m[1]) * 60 + Number(m[2]) : Number.NaN;
}

/** Runs `cmd` through `sh` (its output into `log`), with a deadline; wall and CPU time. */
function timeRun(cmd: Cmd, log: string, timeoutSec: number): Promise<StartupRun> {
  // `times` prints the shell's own times, then its children's: user and system.
  const script = '"$@" >"$BENCH_STARTUP_LOG" 2>&1; s=$?; times; exit $s';
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const child = spawn("sh", ["-c", script, "sh", ...cmd.argv], {
      env: { ...process.env, ...cmd.env, BENCH_STARTUP_LOG: log },
      stdio: ["ignore", "pipe", "ignore"],
      detached: true,
    });
    let out = "";
    child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }, timeoutSec * 1000);
    child.on("close", (code) => {
      clearTimeout(timer);
      const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
      let cpuS: number | null = null;
      if (cmd.cpu === "times") {
        const line = out.trim().split("\n")[1]?.trim().split(/\s+/) ?? [];
        const [u, s] = line.map(timesSeconds);
        if (u !== undefined && s !== undefined && Number.isFinite(u + s)) cpuS = u + s;
      } else {
        const ms = readFileSync(log, "utf8")
          .split("\n")
          .map((l) => /(?:^|\s)cpu ([\d.]+)$/.exec(l.trim()))
          .filter((m): m is RegExpExecArray => m !== null)
          .map((m) => Number(m[1]));
        if (ms.length > 0) cpuS = ms.reduce((a, b) => a + b, 0) / 1000;
      }
      resolve({ wallS, cpuS, code });
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const fmt = (x: number | null | undefined, d = 2) => (x === null || x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(d));

/** Runs the start-up comparison; resolves with the exit status (0 when every zmpi run succeeded). */
export async function runStartup(opts: StartupOptions): Promise<number> {
  const out = opts.stdout ?? process.stdout;
  const pairs = opts.pairs ?? 3;
  const distIndex = packageEntry(opts.root);
  const dir = mkdtempSync(join(os.tmpdir(), "zmpi-startup-"));
  try {
    writeFileSync(join(dir, "hello.mjs"), helloSource(distIndex));
    const hello = join(dir, "hello.mjs");
    const py = onPath("mpirun") ? pythonWithMpi4py() : null;
    if (py === null) out.write(`# mpirun mpi4py: ${onPath("mpirun") ? "no python3 with mpi4py" : "mpirun not on PATH"}; timing zmpi alone\n`);
    const zmpiCmd = (np: number): Cmd =>
      opts.srun
        ? {
            argv: ["srun", "-N2", `-n${np}`, "-O", process.execPath, hello],
            env: { ZMPI_SECRET: `startup-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}` },
            cpu: "ranks",
          }
        : { argv: [process.execPath, join(opts.root, "launcher", "bin.mjs"), "launch", "-n", String(np), hello], cpu: "times" };
    const mpiCmd = (np: number): Cmd => ({
      argv: ["mpirun", "--oversubscribe", "-np", String(np), py!, "-c", "from mpi4py import MPI"],
      env: { OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1" },
      cpu: "times",
    });
    const load0 = os.loadavg();
    const what = opts.srun ? "srun -N2 -O" : "zmpi launch";
    out.write(
      `# start-up: ${what} of a compiled init/finalize hello vs mpirun --oversubscribe of mpi4py, ${pairs} pair(s) per size; load ${load0.map((l) => l.toFixed(2)).join(" ")}\n`,
    );
    out.write("#  np  pair  zmpi wall s  mpi wall s  wall ratio  zmpi cpu s  mpi cpu s  cpu ratio\n");
    const results: StartupPair[] = [];
    let status = 0;
    for (const np of opts.ranks) {
      const mine: StartupPair[] = [];
      for (let i = 0; i < pairs; i++) {
        const zmpi = await timeRun(zmpiCmd(np), join(dir, `zmpi-${np}-${i}.log`), opts.runTimeoutSec ?? 300);
        if (zmpi.code !== 0) {
          status = 1;
          out.write(`# zmpi at np=${np} exited with ${zmpi.code}; its output:\n${readFileSync(join(dir, `zmpi-${np}-${i}.log`), "utf8").slice(-2000)}\n`);
        }
        const mpi = py === null ? null : await timeRun(mpiCmd(np), join(dir, `mpi-${np}-${i}.log`), opts.runTimeoutSec ?? 300);
        const pair = { np, zmpi, mpi };
        mine.push(pair);
        results.push(pair);
        out.write(
          `${String(np).padStart(5)}  ${String(i + 1).padStart(4)}  ${fmt(zmpi.wallS).padStart(11)}  ${fmt(mpi?.wallS).padStart(10)}  ${fmt(mpi ? zmpi.wallS / mpi.wallS : null).padStart(10)}  ` +
            `${fmt(zmpi.cpuS).padStart(10)}  ${fmt(mpi?.cpuS).padStart(9)}  ${fmt(mpi?.cpuS && zmpi.cpuS !== null ? zmpi.cpuS / mpi.cpuS : null).padStart(9)}\n`,
        );
      }
      const wall = mine.filter((p) => p.mpi).map((p) => p.zmpi.wallS / p.mpi!.wallS);
      const cpu = mine.filter((p) => p.mpi?.cpuS && p.zmpi.cpuS !== null).map((p) => p.zmpi.cpuS! / p.mpi!.cpuS!);
      out.write(
        `# np=${np}: median zmpi wall ${fmt(median(mine.map((p) => p.zmpi.wallS)))} s, cpu ${fmt(median(mine.flatMap((p) => (p.zmpi.cpuS === null ? [] : [p.zmpi.cpuS]))))} s` +
          (wall.length ? `; median ratio zmpi/mpi wall ${fmt(median(wall))}, cpu ${cpu.length ? fmt(median(cpu)) : "-"}` : "") +
          "\n",
      );
    }
    const load1 = os.loadavg();
    out.write(`# load after: ${load1.map((l) => l.toFixed(2)).join(" ")}\n`);
    mkdirSync(opts.out, { recursive: true });
    const path = join(opts.out, opts.srun ? "startup-srun.json" : "startup.json");
    writeFileSync(
      path,
      `${JSON.stringify({ launcher: what, reference: py === null ? null : "mpirun --oversubscribe python3 -c 'from mpi4py import MPI'", loadBefore: load0, loadAfter: load1, pairs: results }, null, 2)}\n`,
    );
    out.write(`# wrote ${path}\n`);
    return status;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
