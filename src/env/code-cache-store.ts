/**
 * Where V8 code caches of zmpi's bundle live, and how they are read and written safely.
 *
 * V8 trusts cached code: whoever can write a cache file zmpi loads can run code as the user who
 * loads it. So a cache is only ever read from, and written to, a directory that is the user's own
 * and private, and only a file the user owns that nobody else can write:
 *
 * - the directory is `$XDG_CACHE_HOME/zmpi` (an absolute `XDG_CACHE_HOME`), else `~/.cache/zmpi`,
 *   created with mode 0700; it is refused when it is a symbolic link, not a directory, owned by
 *   another uid, or writable by group or others;
 * - a file is opened with `O_NOFOLLOW` and refused unless that open descriptor is a regular file
 *   owned by the current uid and not group/other-writable (so swapping the directory after the
 *   check gains nothing: the file itself must still be the user's);
 * - its header names the exact key it was made for (zmpi version, the script's content hash, Node
 *   version, architecture, V8's cached-data tag, which covers V8's version and flags) and a SHA-256
 *   of the data: a file for another key, truncated or corrupt is never handed to V8;
 * - it is written under a fixed temporary name opened with `O_CREAT | O_EXCL` (mode 0600), fsynced
 *   and renamed over the final name: readers see the old file or the whole new one, never part of
 *   one, and of many ranks finishing at once only the one that created the temporary file writes.
 *
 * Any failure means "no cache": the caller compiles as it would without one.
 */
import { createHash } from "node:crypto";
import { closeSync, constants, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";

const MAGIC = "ZMPI-V8-CODE-CACHE 1\n";
/** Larger files are not caches zmpi wrote (the bundle's whole cache is well under 2 MB). */
const MAX_BYTES = 64 * 1024 * 1024;
/** A temporary file older than this was left by a writer that died: removed, so a later rank writes. */
const STALE_TMP_MS = 60_000;

/** Off when `ZMPI_CODE_CACHE` is 0/false/no/off (the settings table's flag, env/settings.ts). */
export function codeCacheEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env.ZMPI_CODE_CACHE ?? "").trim().toLowerCase();
  return !["0", "false", "no", "off"].includes(v);
}

/** The cache directory for `env`'s user (not created, not checked). */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), ".cache"), "zmpi");
}

/** Why `dir` may not hold caches, or null when it may (it is created, mode 0700, when missing). */
export function privateDirProblem(dir: string): string | null {
  const uid = process.getuid?.();
  if (uid === undefined) return "this platform has no user ids to check ownership with";
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    return `cannot create it: ${(e as Error).message}`;
  }
  const st = lstatSync(dir);
  if (st.isSymbolicLink()) return "it is a symbolic link";
  if (!st.isDirectory()) return "it is not a directory";
  if (st.uid !== uid) return `it is owned by uid ${st.uid}, not ${uid}`;
  if ((st.mode & 0o022) !== 0) return `it is writable by group or others (mode ${(st.mode & 0o777).toString(8)})`;
  return null;
}

/** The file name of the cache for `key` of the script `name`. */
export function cacheFileName(name: string, key: string): string {
  return `${name.replace(/[^A-Za-z0-9_-]/g, "_")}-${createHash("sha256").update(key).digest("hex").slice(0, 32)}.v8`;
}

/** One open descriptor's identity, so a rewrite can tell whether the file changed since it was read. */
export interface CacheRead {
  data: Buffer;
  /** Device and inode of the file read. */
  id: string;
}

/** The cached data in `file` made for `key`, or null (absent, unsafe, for another key, damaged). */
export function readCache(file: string, key: string): CacheRead | null {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0 || st.size > MAX_BYTES) return null;
    const all = Buffer.allocUnsafe(st.size);
    let n = 0;
    while (n < st.size) {
      const r = readSync(fd, all, n, st.size - n, n);
      if (r === 0) break;
      n += r;
    }
    const data = parse(all.subarray(0, n), key);
    return data === null ? null : { data, id: `${st.dev}:${st.ino}` };
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

function parse(all: Buffer, key: string): Buffer | null {
  const head = `${MAGIC}${key}\n`;
  if (all.length < head.length + 65 || all.toString("latin1", 0, head.length) !== head) return null;
  const digest = all.toString("latin1", head.length, head.length + 64);
  if (all[head.length + 64] !== 0x0a) return null;
  const data = all.subarray(head.length + 65);
  return createHash("sha256").update(data).digest("hex") === digest ? data : null;
}

/** The identity (device:inode) of `file` when it is a cache for `key`, else null. */
export function cacheIdentity(file: string, key: string): string | null {
  return readCache(file, key)?.id ?? null;
}

/**
 * Writes the data `make()` returns as the cache for `key` at `file`, atomically, unless a cache for
 * `key` other than `replacing` (the identity of one V8 rejected) is there already, or another
 * process is writing it right now (its temporary file exists). `make` runs only in the writer.
 * True when this process wrote the file.
 */
export function writeCache(file: string, key: string, make: () => Buffer, replacing: string | null = null): boolean {
  const current = () => {
    const id = cacheIdentity(file, key);
    return id !== null && id !== replacing;
  };
  if (current()) return false;
  const tmp = `${file}.tmp`;
  let fd: number;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") removeIfStale(tmp);
    return false;
  }
  let ok = false;
  try {
    // Checked again holding the temporary name: a writer that renamed just before is not redone.
    if (!current()) {
      const data = make();
      const body = Buffer.concat([Buffer.from(`${MAGIC}${key}\n${createHash("sha256").update(data).digest("hex")}\n`, "latin1"), data]);
      let n = 0;
      while (n < body.length) n += writeSync(fd, body, n, body.length - n, n);
      fsyncSync(fd);
      ok = true;
    }
  } catch {
    // ok stays false: the temporary file is removed below
  } finally {
    closeSync(fd);
  }
  try {
    if (ok) {
      renameSync(tmp, file);
      return true;
    }
  } catch {
    // not renamed: removed below
  }
  try {
    unlinkSync(tmp);
  } catch {
    // already gone
  }
  return false;
}

/**
 * Removes caches in `dir` nobody has written for `maxAgeMs` (default 14 days): each build of zmpi,
 * Node version or V8 flag set has its own files, and they would pile up. A cache still in use is
 * written again by the next job after it is gone.
 */
export function pruneCaches(dir: string, keep: ReadonlySet<string>, maxAgeMs = 14 * 24 * 3600_000): void {
  try {
    for (const f of readdirSync(dir)) {
      if (!f.endsWith(".v8") || keep.has(join(dir, f))) continue;
      const st = lstatSync(join(dir, f));
      if (st.isFile() && Date.now() - st.mtimeMs > maxAgeMs) unlinkSync(join(dir, f));
    }
  } catch {
    // pruning is housekeeping
  }
}

function removeIfStale(tmp: string): void {
  try {
    if (Date.now() - statSync(tmp).mtimeMs > STALE_TMP_MS) unlinkSync(tmp);
  } catch {
    // gone already, or not ours to remove
  }
}
