/**
 * Live anchors for `--compare-anchors`: when `mpirun` and `mpicc` are on the machine, Open MPI's
 * own figures are measured in the same session as zmpi's — `mpi_bench.c` (from
 * `../shared/anchors/`) once right before the zmpi job and once right after, over TCP
 * (`--mca btl tcp,self`, loopback) and shared memory — because this VM's speed moves by 2× between
 * days, so the stored anchors are for orientation only. The runs become anchor rows with their own
 * stacks ("Open MPI TCP now", "Open MPI shm now") beside the stored ones.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { repoRoot, type AnchorResult } from "./anchors.js";

/** The live stacks: label, results config, and the mpirun arguments of the transport. */
export const LIVE_STACKS: Array<{ label: string; config: (np: number) => string; transport: string; args: string[] }> = [
  {
    label: "Open MPI TCP now",
    config: (np) => `live-c-tcp-np${np}`,
    transport: "tcp",
    args: ["--mca", "pml", "ob1", "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "lo"],
  },
  { label: "Open MPI shm now", config: (np) => `live-c-shm-np${np}`, transport: "shm", args: [] },
];

/** Why live anchors cannot run here, or null when they can. */
export function liveAnchorsUnavailable(source = defaultBenchSource()): string | null {
  for (const tool of ["mpirun", "mpicc"]) {
    if (spawnSync("bash", ["-c", `command -v ${tool}`]).status !== 0) return `${tool} is not on PATH`;
  }
  if (!existsSync(source)) return `${source} is missing`;
  return null;
}

/** `../shared/anchors/mpi_bench.c` next to the repo. */
export function defaultBenchSource(): string {
  return resolve(repoRoot(), "..", "shared", "anchors", "mpi_bench.c");
}

/** Compiles mpi_bench.c once (again only when the source is newer); returns the binary's path. */
export function buildMpiBench(source = defaultBenchSource(), dir = join(tmpdir(), "zmpi-anchors-build")): string {
  mkdirSync(dir, { recursive: true });
  const bin = join(dir, "mpi_bench");
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(source).mtimeMs) return bin;
  const cc = spawnSync("mpicc", ["-O2", "-o", bin, source], { encoding: "utf8" });
  if (cc.status !== 0) throw new Error(`mpicc -O2 -o ${bin} ${source} failed (status ${cc.status}): ${cc.stderr.trim()}`);
  return bin;
}

/** Parses mpi_bench.c's JSON lines into anchor rows of one stack and run (skips meta and malformed lines). */
export function parseMpiBench(text: string, config: string, run: number): AnchorResult[] {
  const rows: AnchorResult[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const r = JSON.parse(line) as Partial<AnchorResult>;
      if (typeof r.bench !== "string" || r.bench === "meta") continue;
      rows.push({ impl: "c", bench: r.bench, np: r.np, bytes: r.bytes, config, run, median_us: r.median_us, median_MBps: r.median_MBps });
    } catch {
      // a line mpirun interleaved: not a result
    }
  }
  return rows;
}

/** Options of {@link runLiveAnchors}. */
export interface LiveAnchorOptions {
  /** Seconds per timed batch (mpi_bench.c's TARGET; default 0.05). */
  target?: number;
  /** Timed batches (default 11, as the stored anchors). */
  batches?: number;
  /** Deadline of one mpirun, s (default 300). */
  timeoutSec?: number;
  /** Which stacks (default both). */
  transports?: string[];
}

/** Runs mpi_bench on `np` ranks over every live stack once, as run number `run`. Never throws: a failed run gives no rows and a note. */
export async function runLiveAnchors(np: number, run: number, note: (line: string) => void, o: LiveAnchorOptions = {}): Promise<AnchorResult[]> {
  let bin: string;
  try {
    bin = buildMpiBench();
  } catch (e) {
    note(`# live anchors: ${(e as Error).message}`);
    return [];
  }
  const rows: AnchorResult[] = [];
  for (const s of LIVE_STACKS.filter((x) => !o.transports || o.transports.includes(x.transport))) {
    const args = ["--oversubscribe", ...s.args, "-np", String(np), bin, String(o.target ?? 0.05), String(o.batches ?? 11)];
    const r = await runWithDeadline("mpirun", args, (o.timeoutSec ?? 300) * 1000);
    if (r.code !== 0) note(`# live anchors: mpirun ${args.join(" ")} ended with ${r.code ?? "a deadline"}: ${r.stderr.trim().split("\n").slice(-2).join(" | ")}`);
    rows.push(...parseMpiBench(r.stdout, s.config(np), run));
  }
  return rows;
}

function runWithDeadline(cmd: string, args: string[], ms: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1" };
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.on("error", (e) => {
      clearTimeout(timer);
      done({ code: null, stdout, stderr: `${stderr}${e.message}` });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}
