/**
 * Whole-file-or-nothing writes: data goes to a temporary name in the same directory, is synced, and
 * is renamed over the target; then the directory is synced so the rename itself survives a power
 * loss. rename(2) within one file system is atomic, so a reader sees either the old file or the new
 * one, never a half-written one, even if this process dies mid-write. Every helper removes its
 * temporary on failure, so a full disk leaves nothing behind.
 */
import { closeSync, constants, copyFileSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

let counter = 0;

/** A temporary name next to `target` (same directory, so the rename stays on one file system). */
export function tmpPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${counter++}.tmp`);
}

/** Creates `dir` and its parents if needed. */
export function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
}

/** Writes all of `bytes` at `position` (or at the descriptor's offset when null). */
export function writeAll(fd: number, bytes: Uint8Array, position: number | null = null): void {
  let off = 0;
  while (off < bytes.byteLength) {
    const n = writeSync(fd, bytes, off, bytes.byteLength - off, position === null ? null : position + off);
    off += n;
  }
}

function fsyncOpened(path: string, flags: string): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Syncs a file's data to disk (so the rename cannot overtake the data after a power loss). */
function fsyncPath(path: string): void {
  fsyncOpened(path, "r+");
}

/** Syncs a directory, so the names created, renamed or removed in it are on disk. */
export function fsyncDir(dir: string): void {
  fsyncOpened(dir, "r");
}

/**
 * Writes `data` to `target` atomically (temp file, fsync, rename, fsync dir). `syncDir: false`
 * leaves the directory to the caller's next sync, for a write that may be lost to a power cut
 * without harm (it is still whole, old or new).
 */
export function writeFileAtomic(target: string, data: string | Uint8Array, syncDir = true): void {
  ensureDir(dirname(target));
  const tmp = tmpPathFor(target);
  try {
    const fd = openSync(tmp, "w");
    try {
      writeAll(fd, typeof data === "string" ? Buffer.from(data, "utf8") : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  if (syncDir) fsyncDir(dirname(target));
}

/** Copies `src` over `target` atomically (a copy-on-write clone where the file system has one). */
export function copyFileAtomic(src: string, target: string): void {
  const tmp = tmpPathFor(target);
  try {
    copyFileSync(src, tmp, constants.COPYFILE_FICLONE);
    fsyncPath(tmp);
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dirname(target));
}

/**
 * Puts the finished directory `tmpDir` in place of `target` (a directory or a file, or nothing).
 * rename(2) cannot replace a non-empty directory, so an old target is first renamed aside and
 * removed after: between the two renames a reader finds no table (never a mixed one). Throws only
 * while `target` is unchanged; trouble after the rename comes back as a warning.
 */
export function replaceWithDir(tmpDir: string, target: string): string | undefined {
  fsyncDir(tmpDir);
  let aside: string | null = tmpPathFor(target);
  try {
    statSync(target);
    renameSync(target, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    aside = null;
  }
  try {
    renameSync(tmpDir, target);
  } catch (e) {
    if (aside) renameSync(aside, target);
    throw e;
  }
  try {
    fsyncDir(dirname(target));
    if (aside) rmSync(aside, { recursive: true, force: true });
    return undefined;
  } catch (e) {
    return `${target} is in place, but syncing its directory or removing the old one failed: ${(e as Error).message}`;
  }
}

/**
 * A snapshot of directory `src` at `target`, atomically: each visible file (not `.`- or
 * `_`-prefixed) is hard-linked into a temporary directory (copied where links are refused), which
 * then replaces `target`. Only for directories whose files are never modified once published.
 */
export function snapshotDirAtomic(src: string, target: string): string | undefined {
  const tmp = tmpPathFor(target);
  mkdirSync(tmp);
  try {
    for (const f of readdirSync(src)) {
      if (f.startsWith(".") || f.startsWith("_")) continue;
      try {
        linkSync(join(src, f), join(tmp, f));
      } catch {
        copyFileSync(join(src, f), join(tmp, f));
        fsyncPath(join(tmp, f));
      }
    }
    return replaceWithDir(tmp, target);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
