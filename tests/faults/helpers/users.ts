/**
 * Another user to attack as. CI runs as root and may create a throwaway user for a test and remove
 * it after; elsewhere (not root, no useradd) the attacks run as this user and the test says so.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";

/** A user to run commands as, or null (with the reason) when there is none. */
export interface OtherUser {
  name: string;
  uid: number;
  /** Runs `argv` as this user; resolves with its output and status. Killed after `timeoutMs`. */
  run(argv: string[], opts?: RunOptions): Running;
  remove(): void;
}

/** Creates a throwaway user, or says why it cannot. */
export function makeOtherUser(): OtherUser | { reason: string } {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return { reason: "not running as root: cannot create another user, so the attacker runs as this user" };
  const name = `zmpit${randomBytes(3).toString("hex")}`;
  const add = spawnSync("useradd", ["--no-create-home", "--shell", "/usr/sbin/nologin", name], { encoding: "utf8" });
  if (add.status !== 0) return { reason: `useradd failed (${add.stderr.trim() || add.error?.message}): the attacker runs as this user` };
  const uid = Number(spawnSync("id", ["-u", name], { encoding: "utf8" }).stdout.trim());
  const gid = Number(spawnSync("id", ["-g", name], { encoding: "utf8" }).stdout.trim());
  return {
    name,
    uid,
    // setpriv execs the command itself (no forked parent in between), so its pid is the attacker's.
    run: (argv, opts = {}) => runProcess("setpriv", [`--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--", ...argv], opts),
    remove() {
      spawnSync("userdel", [name]);
    },
  };
}

/** Runs `argv` as this user, with the same interface. */
export function runAsSelf(argv: string[], opts: RunOptions = {}): Running {
  return runProcess(argv[0]!, argv.slice(1), opts);
}

interface RunOptions {
  timeoutMs?: number;
  onStdout?: (s: string) => void;
}

interface Running {
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  kill(signal?: NodeJS.Signals): void;
}

function runProcess(cmd: string, args: string[], opts: RunOptions): Running {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd: "/" });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
    opts.onStdout?.(stdout);
  });
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const t = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    }),
  );
  return { done, kill: (sig: NodeJS.Signals = "SIGTERM") => child.kill(sig) };
}

/** The `result {...}` lines a command printed. */
/** What the stranger scripts print (each prints the fields of its own kind). */
export interface StrangerResult {
  attempts: number;
  admitted: number;
  unreachable: string;
  closedMs: number[];
  sentBytes: number;
}

/** The first result line of an attacker run; fails the test (with its stderr) when there is none. */
export function strangerResult(x: { stdout: string; stderr: string }): StrangerResult {
  const res = resultsOf(x.stdout)[0];
  if (!res) throw new Error(`the attacker printed no result: ${x.stderr}`);
  return res as unknown as StrangerResult;
}

export function resultsOf(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("result "))
    .map((l) => JSON.parse(l.slice(7)) as Record<string, unknown>);
}
