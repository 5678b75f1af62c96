/**
 * A job under attack: `zmpi launch` in a process of its own (optionally under `prlimit`), its
 * output read line by line while it runs, so a test can wait for the ranks to say where they
 * listen, attack, then tell them to stop.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url)).replace(/\/$/, "");
const BIN = join(ROOT, "launcher", "bin.mjs");

/** Where a rank of tests/fixtures/target.ts listens. */
export interface Target {
  rank: number;
  pid: number;
  tcp: string;
  ipc: string | null;
  stream: string | null;
  coord: string | null;
}

/** A running job. */
export interface RunningJob {
  child: ChildProcess;
  /** Everything printed so far (stdout and stderr, rank-prefixed). */
  text(): string;
  /** Resolves with the first match of `re` in the output, or rejects after `ms`. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** The target lines, once every rank has printed one. */
  targets(np: number, ms?: number): Promise<Target[]>;
  /** Tells tests/fixtures/target.ts to finish. */
  stop(): void;
  /** Exit status and the time it took. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

/** Starts `zmpi launch -n np <fixture>`; `prefix` runs it under another command (e.g. prlimit). */
export function startJob(fixture: string, np: number, opts: { env?: Record<string, string>; prefix?: string[]; launchArgs?: string[] } = {}): RunningJob {
  const dir = mkdtempSync(join(tmpdir(), "zmpi-faults-"));
  const stopFile = join(dir, "stop");
  const args = [BIN, "launch", "-n", String(np), ...(opts.launchArgs ?? []), join(ROOT, "tests", "fixtures", fixture)];
  const [cmd, ...cmdArgs] = opts.prefix ? [...opts.prefix, process.execPath, ...args] : [process.execPath, ...args];
  const t0 = Date.now();
  const child = spawn(cmd!, cmdArgs, { env: { ...process.env, STOP_FILE: stopFile, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const waiters: Array<() => void> = [];
  const feed = (c: Buffer) => {
    out += c.toString("utf8");
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on("data", feed);
  child.stderr!.on("data", feed);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((resolve) =>
    child.on("close", (code, signal) => {
      for (const w of waiters.splice(0)) w();
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, signal, ms: Date.now() - t0 });
    }),
  );
  let exited = false;
  void done.then(() => (exited = true));
  const waitFor = (re: RegExp, ms = 60_000) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms; output:\n${out}`)), ms);
      const look = () => {
        const m = re.exec(out);
        if (m) {
          clearTimeout(t);
          return resolve(m);
        }
        if (exited) {
          clearTimeout(t);
          return reject(new Error(`the job ended without ${re}; output:\n${out}`));
        }
        waiters.push(look);
      };
      look();
    });
  return {
    child,
    text: () => out,
    waitFor,
    async targets(n: number, ms = 60_000) {
      const list: Target[] = [];
      for (let r = 0; r < n; r++) list.push(JSON.parse((await waitFor(new RegExp(`\\[${r}\\] target (\\{.*\\})`), ms))[1]!) as Target);
      return list;
    },
    stop: () => writeFileSync(stopFile, ""),
    done,
  };
}

/** The `stats {...}` line of `rank`. */
export function statsOf(text: string, rank: number): { rounds: number; refused: number; coordRefused: number; malformed: number; peakRss: number } {
  const m = new RegExp(`\\[${rank}\\] stats (\\{.*\\})`).exec(text);
  if (!m) throw new Error(`rank ${rank} printed no stats:\n${text}`);
  return JSON.parse(m[1]!);
}

/** VmHWM (peak resident set) and VmRSS of a process, bytes. */
export function memoryOf(pid: number): { peak: number; rss: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0) * 1024;
  return { peak: kb("VmHWM"), rss: kb("VmRSS") };
}
