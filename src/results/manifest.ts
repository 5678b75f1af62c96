/**
 * `manifest.json`: what rank 0 wrote into an output directory (outputs, checkpoints, row counts
 * per rank, bytes and checksums), when the run started and ended, and how it ended. Rewritten
 * atomically after every flush and checkpoint, and synchronously when the job fails, so it is never
 * half-written and its status says whether the files beside it are complete.
 *
 * It always describes the published files: a flush first records the version it is about to
 * publish as the output's `pending`, then renames its data into place, then records it as current.
 * A process killed between those steps leaves `pending` in the file, and the output is then exactly
 * the current version or exactly the pending one (compare `bytes`, or `sha256`).
 */
import { join } from "node:path";
import { writeFileAtomic } from "./atomic.js";

/** How the run that wrote the directory ended (so far). */
export type RunStatus = "running" | "complete" | "failed";

/** What one published version of an output holds (used for the version being published, too). */
export interface ManifestVersion {
  /** Data rows in it (a CSV header is not a row). */
  rows: number;
  /** Bytes on disk: the file, or for a Parquet dataset directory the sum of its parts. */
  bytes: number;
  /** SHA-256 of the file, hex (CSV and JSONL). */
  sha256?: string;
  /** Parquet: number of part files, `part-000000.parquet` to `part-<parts-1>.parquet`. */
  parts?: number;
}

/** One output (the live table of a `world.results()`): a file, or a directory of Parquet parts. */
export interface ManifestOutput extends ManifestVersion {
  /** File (or Parquet dataset directory) name, relative to the manifest's directory. */
  file: string;
  /** `jsonl`, `csv` or `parquet`. */
  format: string;
  /** Rows each rank contributed (index = rank). */
  rowsPerRank: number[];
  /** Column names (CSV and Parquet; empty for JSONL). */
  columns: string[];
  /** Completed flushes. */
  flushes: number;
  /** ISO time of the last write. */
  updatedAt: string;
  /** True once `close()` ran. */
  closed: boolean;
  /**
   * Present only while a flush is being published (or if the process died doing it): the version
   * being renamed into place. The output is then exactly the current version or exactly this one.
   */
  pending?: ManifestVersion;
}

/** One checkpoint: a frozen, complete copy of an output. */
export interface ManifestCheckpoint {
  /** File name, relative to the manifest's directory. */
  file: string;
  /** The output it is a snapshot of. */
  of: string;
  /** Rows in it, and per rank. */
  rows: number;
  rowsPerRank: number[];
  /** ISO time it was written. */
  writtenAt: string;
}

/** The manifest's content. */
export interface ManifestData {
  version: 1;
  status: RunStatus;
  /** Ranks in the job. */
  ranks: number;
  /** Host and pid of rank 0, the writer. */
  host: string;
  pid: number;
  startedAt: string;
  endedAt: string | null;
  /** Why the run failed, if it did. */
  error?: string;
  outputs: Record<string, ManifestOutput>;
  checkpoints: ManifestCheckpoint[];
  /** Metrics file written beside it, if any. */
  metrics?: string;
}

const open = new Map<string, Manifest>();

/** The manifest of one directory, shared by every output in it (rank 0 only). */
export class Manifest {
  /** Path of `manifest.json`. */
  readonly path: string;
  /** Current content. */
  readonly data: ManifestData;

  private constructor(dir: string, ranks: number, host: string) {
    this.path = join(dir, "manifest.json");
    this.data = { version: 1, status: "running", ranks, host, pid: process.pid, startedAt: new Date().toISOString(), endedAt: null, outputs: {}, checkpoints: [] };
  }

  /** The manifest for `dir`, created on first use in this process. */
  static for(dir: string, ranks: number, host: string): Manifest {
    let m = open.get(dir);
    if (!m) {
      m = new Manifest(dir, ranks, host);
      open.set(dir, m);
    }
    return m;
  }

  /**
   * Records an output's state (before and after a flush publishes, at close) and saves; on failure
   * nothing changes. `syncDir: false` when losing this write to a power cut is harmless (the
   * previous content still describes the files).
   */
  output(o: ManifestOutput, syncDir = true): void {
    this.change(syncDir, () => {
      this.data.outputs[o.file] = o;
      const all = Object.values(this.data.outputs);
      if (this.data.status !== "failed" && all.length > 0 && all.every((x) => x.closed)) {
        this.data.status = "complete";
        this.data.endedAt = new Date().toISOString();
      } else if (this.data.status === "complete") {
        this.data.status = "running";
        this.data.endedAt = null;
      }
    });
  }

  /** Records a checkpoint and saves; on failure nothing changes. */
  checkpoint(c: ManifestCheckpoint): void {
    this.change(true, () => this.data.checkpoints.push(c));
  }

  /** Applies `edit` and saves; if the save fails (a full disk), the content goes back to what is on disk. */
  private change(syncDir: boolean, edit: () => void): void {
    const before = JSON.stringify(this.data);
    edit();
    try {
      this.save(syncDir);
    } catch (e) {
      Object.assign(this.data, JSON.parse(before) as ManifestData);
      throw e;
    }
  }

  /** Marks the run failed (synchronously: this runs while the process is going down). */
  fail(reason: string): void {
    if (this.data.status !== "running") return;
    this.data.status = "failed";
    this.data.error = reason;
    this.data.endedAt = new Date().toISOString();
    try {
      this.save();
    } catch {
      // The job is already failing; a manifest that cannot be written must not mask why.
    }
  }

  /** Notes the metrics file written beside the manifest. */
  metrics(file: string): void {
    this.data.metrics = file;
    this.save();
  }

  /** Writes `manifest.json` atomically. */
  save(syncDir = true): void {
    writeFileAtomic(this.path, `${JSON.stringify(this.data, null, 2)}\n`, syncDir);
  }
}

/** Every manifest this process writes (rank 0), e.g. to record metrics in each. */
export function openManifests(): Manifest[] {
  return [...open.values()];
}
