/**
 * `manifest.json`: what rank 0 wrote into an output directory (outputs, checkpoints, row counts
 * per rank), when the run started and ended, and how it ended. Rewritten atomically after every
 * flush and checkpoint, and synchronously when the job fails, so it is never half-written and its
 * status says whether the files beside it are complete.
 */
import { join } from "node:path";
import { writeFileAtomic } from "./atomic.js";

/** How the run that wrote the directory ended (so far). */
export type RunStatus = "running" | "complete" | "failed";

/** One output file (the live table of a `world.results()`). */
export interface ManifestOutput {
  /** File name, relative to the manifest's directory. */
  file: string;
  /** `jsonl`, `csv` or `parquet`. */
  format: string;
  /** Rows in the file. */
  rows: number;
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
    if (!m) open.set(dir, (m = new Manifest(dir, ranks, host)));
    return m;
  }

  /** Records an output's state (after a flush or close) and saves. */
  output(o: ManifestOutput): void {
    this.data.outputs[o.file] = o;
    const all = Object.values(this.data.outputs);
    if (this.data.status !== "failed" && all.length > 0 && all.every((x) => x.closed)) {
      this.data.status = "complete";
      this.data.endedAt = new Date().toISOString();
    } else if (this.data.status === "complete") {
      this.data.status = "running";
      this.data.endedAt = null;
    }
    this.save();
  }

  /** Records a checkpoint and saves. */
  checkpoint(c: ManifestCheckpoint): void {
    this.data.checkpoints.push(c);
    this.save();
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
  save(): void {
    writeFileAtomic(this.path, JSON.stringify(this.data, null, 2) + "\n");
  }
}

/** Every manifest this process writes (rank 0), e.g. to record metrics in each. */
export function openManifests(): Manifest[] {
  return [...open.values()];
}
