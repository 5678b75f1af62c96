/**
 * Whole-file-or-nothing writes: data goes to a temporary file in the same directory, is synced, and
 * is renamed over the target. rename(2) within one file system is atomic, so a reader sees either
 * the old file or the new one, never a half-written one, even if this process dies mid-write.
 */
import { closeSync, constants, copyFileSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
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

/** Syncs a file's data to disk (so the rename cannot overtake the data after a power loss). */
export function fsyncPath(path: string): void {
  const fd = openSync(path, "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Moves a finished temporary file into place, atomically. */
export function commitTmp(tmp: string, target: string): void {
  fsyncPath(tmp);
  renameSync(tmp, target);
}

/** Writes `data` to `target` atomically (temp file, fsync, rename). */
export function writeFileAtomic(target: string, data: string | Uint8Array): void {
  ensureDir(dirname(target));
  const tmp = tmpPathFor(target);
  try {
    const fd = openSync(tmp, "w");
    try {
      const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
      let off = 0;
      while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Copies `src` to a fresh temporary file next to `target` and returns its path; the caller may
 * append to it and then {@link commitTmp}. Uses a copy-on-write clone where the file system has one.
 */
export function copyToTmp(src: string, target: string): string {
  const tmp = tmpPathFor(target);
  copyFileSync(src, tmp, constants.COPYFILE_FICLONE);
  return tmp;
}

/** Copies `src` over `target` atomically. */
export function copyFileAtomic(src: string, target: string): void {
  const tmp = copyToTmp(src, target);
  try {
    commitTmp(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
