/**
 * The private directories that hold a rank's Unix sockets. A socket file is only as private as the
 * directory it is in: if another user could create `$TMPDIR/zmpi-<uid>` first, or write into it,
 * she could put her own socket where a rank's peers connect. So the per-user directory is created
 * with mode 0700 or, when it exists, checked with `lstat` (a directory, not a symlink, ours, mode
 * 0700); anything else is an error naming the path. Each process then makes a directory of its own
 * inside it, removed when the process ends; those of processes that died without cleaning up (kill
 * -9) are removed by the next process of the same user on the same host.
 */
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, type Stats, unlinkSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { UsageError } from "../errors.js";

const uid = (): number | null => (typeof process.getuid === "function" ? process.getuid() : null);

function errno(e: unknown): string {
  return (e as NodeJS.ErrnoException)?.code ?? "";
}

/** What is wrong with an existing directory that should be private, or null if nothing. */
function problemWith(path: string): string | null {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return "is a symbolic link";
  if (!st.isDirectory()) return "is not a directory";
  const me = uid();
  if (me !== null && st.uid !== me) return `belongs to uid ${st.uid}, not to you (uid ${me})`;
  const mode = st.mode & 0o777;
  if (mode !== 0o700) return `has mode ${mode.toString(8).padStart(3, "0")}, not 700`;
  return null;
}

/**
 * Makes sure `path` is a directory only this user can enter: creates it (mode 0700) or checks the
 * one that is there. Its parent must exist and must not let other users replace it (not writable
 * by others, or sticky like /tmp).
 *
 * @throws UsageError naming the path and what is wrong with it.
 */
export function ensurePrivateDir(path: string): void {
  const parent = dirname(path);
  let pst: Stats;
  try {
    pst = lstatSync(parent);
  } catch (e) {
    throw new UsageError(`cannot use ${parent} for zmpi's sockets: ${(e as Error).message} (set TMPDIR to a directory of yours)`);
  }
  if ((pst.mode & 0o002) !== 0 && (pst.mode & 0o1000) === 0) {
    throw new UsageError(`${parent} is writable by every user and not sticky: another user could replace ${path}; set TMPDIR to a directory of yours`);
  }
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (e) {
    if (errno(e) !== "EEXIST") throw new UsageError(`cannot create ${path}: ${(e as Error).message}`);
  }
  const problem = problemWith(path);
  if (problem) {
    throw new UsageError(
      `zmpi's socket directory ${path} ${problem}: another user may have made it to intercept this job's connections. Remove it (or, if it is yours, run "chmod 700 ${path}"), or set TMPDIR elsewhere`,
    );
  }
}

/** A short tag of this host, so processes on hosts sharing a TMPDIR never touch each other's directories. */
const HOST_TAG = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);
const PROCESS_DIR = /^([0-9a-f]{8})-(\d+)$/;
/** Sockets of versions before per-process directories: `<job>-r<rank>.sock` / `.s`. */
const LEGACY_SOCKET = /-r\d+\.(sock|s)$/;
/** At most this many entries are looked at per start, so a huge directory cannot stall a rank. */
const MAX_SCAN = 4096;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) === "EPERM";
  }
}

/** Removes a process directory's files (never following links) and the directory itself. */
function removeDir(dir: string): void {
  try {
    for (const name of readdirSync(dir)) {
      try {
        unlinkSync(join(dir, name));
      } catch {
        // gone already, or not a file: rmdir below then fails and the directory stays
      }
    }
    rmdirSync(dir);
  } catch {
    // someone else cleaned it
  }
}

/** Paths of the Unix sockets bound in this network namespace (Linux), or null where unknown. */
function boundUnixSockets(): Set<string> | null {
  try {
    const lines = readFileSync("/proc/net/unix", "latin1").split("\n");
    const out = new Set<string>();
    for (const line of lines.slice(1)) {
      const path = line.trim().split(/\s+/)[7];
      if (path?.startsWith("/")) out.add(path);
    }
    return out;
  } catch {
    return null;
  }
}

/**
 * Removes what dead processes of this user left in `base`: directories of processes on this host
 * that no longer run, and socket files of older zmpi versions that nothing listens on any more.
 * Returns how many entries were removed.
 */
export function removeStale(base: string): number {
  let names: string[];
  try {
    names = readdirSync(base).slice(0, MAX_SCAN);
  } catch {
    return 0;
  }
  let removed = 0;
  let bound: Set<string> | null | undefined;
  for (const name of names) {
    const m = PROCESS_DIR.exec(name);
    if (m) {
      const pid = Number(m[2]);
      if (m[1] === HOST_TAG && pid !== process.pid && !alive(pid)) {
        removeDir(join(base, name));
        removed++;
      }
      continue;
    }
    if (LEGACY_SOCKET.test(name)) {
      bound ??= boundUnixSockets();
      const path = join(base, name);
      if (bound && !bound.has(path)) {
        try {
          if (lstatSync(path).isSocket()) {
            unlinkSync(path);
            removed++;
          }
        } catch {
          // gone already
        }
      }
    }
  }
  return removed;
}

/**
 * Creates this process's own private directory inside the per-user directory `base` (checked by
 * {@link ensurePrivateDir}), after removing those of dead processes. The directory is removed when
 * the process exits, however it exits short of kill -9; {@link removeProcessDir} removes it earlier.
 */
export function makeProcessDir(base: string): string {
  ensurePrivateDir(base);
  removeStale(base);
  const dir = join(base, `${HOST_TAG}-${process.pid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if (errno(e) !== "EEXIST") throw new UsageError(`cannot create ${dir}: ${(e as Error).message}`);
    // Left by an earlier process with this pid (pids wrap), or by an earlier world of this one.
    const problem = problemWith(dir);
    if (problem) throw new UsageError(`zmpi's socket directory ${dir} ${problem}`);
  }
  process.once("exit", () => removeProcessDir(dir));
  removeOnSignals(dir);
  return dir;
}

/**
 * A signal that ends the process skips its 'exit' handlers: when nothing else handles the signal
 * (so it is about to end the process), remove the directory, then re-raise the signal so the
 * process ends as it would have. When the program handles the signal itself it may go on running
 * with its sockets, and its 'exit' handler removes them later.
 */
function removeOnSignals(dir: string): void {
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.once(sig, () => {
      if (process.listenerCount(sig) > 0) return;
      removeProcessDir(dir);
      process.kill(process.pid, sig);
    });
  }
}

/** Removes this process's directory and what is in it. */
export function removeProcessDir(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // already gone
  }
}
