/**
 * The file of a CSV or JSONL table: grown by appending, published by rename, so a flush costs in
 * proportion to its own rows and a reader or a crash never meets a torn line.
 *
 * Two files take turns. `path` is the published version and is never written to; `.<name>.spare`
 * holds the version before it, kept open. A flush brings the spare up to date by copying only the
 * bytes the previous flush added, appends its own rows, fsyncs, and swaps the two names (hard-link
 * the published file to a temporary name, rename the spare over `path`, rename the old one to the
 * spare name, fsync the directory). Each row is thus written twice and read once, never the whole
 * table per flush (copying it made 1000 flushes O(n²)). A failed flush truncates the spare back to
 * its last good length, freeing the space; `path` never changed. A process killed at any point
 * leaves `path` one whole version (plus, at worst, a hidden `.tmp` link).
 *
 * A reader should open `path` afresh for each read: a descriptor kept open across two flushes
 * refers to the file that becomes the spare and grows again.
 */
import { createHash, type Hash } from "node:crypto";
import { closeSync, fsyncSync, ftruncateSync, linkSync, openSync, readSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fsyncDir, tmpPathFor, writeAll } from "./atomic.js";

/** What a flush is about to publish. */
export interface Staged {
  /** Bytes of the new version. */
  bytes: number;
  /** Its SHA-256, hex (text files). */
  sha256?: string;
  /** Parquet: part files in the new version. */
  parts?: number;
}

/** Bytes copied per read when the spare catches up. */
const COPY_BLOCK = 1 << 20;

interface Open {
  fd: number;
  /** Bytes in the file. */
  len: number;
}

/** The published file and its spare. All calls are synchronous and rank 0's only. */
export class TextTableFile {
  readonly #path: string;
  readonly #spareName: string;
  #pub: Open | null = null;
  /** `good`: leading bytes known equal to the published file's (what a failed flush truncates back to). */
  #spare: (Open & { good: number }) | null = null;
  /** SHA-256 state of the published content, and of this flush's version while it is written. */
  #hash: Hash = createHash("sha256");
  #next: Hash | null = null;

  constructor(path: string) {
    this.#path = path;
    this.#spareName = join(dirname(path), `.${basename(path)}.spare`);
  }

  /** Starts a flush: the spare catches up with the published version. */
  begin(): void {
    this.#next = this.#hash.copy();
    const spare = this.#openSpare();
    const pub = this.#pub;
    if (!pub || spare.good === pub.len) return;
    const buf = Buffer.allocUnsafe(Math.min(COPY_BLOCK, pub.len - spare.good));
    for (let pos = spare.good; pos < pub.len; ) {
      const n = readSync(pub.fd, buf, 0, Math.min(buf.length, pub.len - pos), pos);
      if (n === 0) throw new Error(`${this.#path} ends at ${pos} bytes, but ${pub.len} were published: it was changed by someone else`);
      writeAll(spare.fd, buf.subarray(0, n), pos);
      pos += n;
    }
    spare.good = spare.len = pub.len;
  }

  /** Appends bytes of this flush. */
  write(bytes: Uint8Array): void {
    const spare = this.#spare!;
    writeAll(spare.fd, bytes, spare.len);
    spare.len += bytes.byteLength;
    this.#next!.update(bytes);
  }

  /** True when this flush changes the published file (or none was published yet). */
  get changed(): boolean {
    return this.#pub === null || this.#spare!.len !== this.#pub.len;
  }

  /** Ends the writes: syncs the new version to disk (before any rename) and says what it is. */
  stage(): Staged {
    const spare = this.#spare!;
    if (this.changed) fsyncSync(spare.fd);
    return { bytes: spare.len, sha256: this.#next!.copy().digest("hex") };
  }

  /**
   * Swaps the new version in. Throws only while nothing is published yet (then {@link abort});
   * after the rename nothing can fail the flush, and trouble is returned as a warning.
   */
  publish(): string | undefined {
    if (!this.changed) {
      this.#next = null;
      return undefined;
    }
    const spare = this.#spare!;
    const old = this.#pub;
    let hold: string | null = null;
    if (old) {
      hold = tmpPathFor(this.#path);
      try {
        linkSync(this.#path, hold); // the old version keeps a name while the new one takes `path`
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
        hold = null; // someone removed `path`: publish anyway, start a fresh spare next time
      }
    }
    try {
      renameSync(this.#spareName, this.#path);
    } catch (e) {
      if (hold) rmSync(hold, { force: true });
      throw e;
    }
    // Published. From here on, a failure only costs the recycling of the old file.
    this.#pub = { fd: spare.fd, len: spare.len };
    this.#hash = this.#next!;
    this.#next = null;
    this.#spare = null;
    const warnings: string[] = [];
    if (old && hold) {
      try {
        renameSync(hold, this.#spareName);
        this.#spare = { fd: old.fd, len: old.len, good: old.len };
      } catch (e) {
        warnings.push(`could not keep the previous version as ${this.#spareName} (${(e as Error).message}); the next flush copies the table once`);
        rmSync(hold, { force: true });
      }
    }
    if (old && !this.#spare) closeSync(old.fd);
    try {
      fsyncDir(dirname(this.#path));
    } catch (e) {
      warnings.push(`fsync of ${dirname(this.#path)} failed (${(e as Error).message}): the rename may not survive a power loss`);
    }
    return warnings.length ? warnings.join("; ") : undefined;
  }

  /** Undoes a failed flush: the spare goes back to its last good length (freeing the space). */
  abort(): void {
    this.#next = null;
    const spare = this.#spare;
    if (!spare) return;
    try {
      ftruncateSync(spare.fd, spare.good);
      spare.len = spare.good;
    } catch {
      this.#dropSpare(); // the next flush starts a new spare and copies the table into it once
    }
  }

  /** Closes both files and removes the spare; `path` stays. */
  close(): void {
    this.#dropSpare();
    if (this.#pub) closeSync(this.#pub.fd);
    this.#pub = null;
  }

  #openSpare(): Open & { good: number } {
    if (this.#spare) return this.#spare;
    rmSync(this.#spareName, { force: true }); // left by a killed run: never write through an old name
    this.#spare = { fd: openSync(this.#spareName, "wx+"), len: 0, good: 0 };
    return this.#spare;
  }

  #dropSpare(): void {
    if (!this.#spare) return;
    try {
      closeSync(this.#spare.fd);
    } finally {
      this.#spare = null;
      rmSync(this.#spareName, { force: true });
    }
  }
}
