/**
 * Rank 0's side of a results table: agrees each flush's columns, writes the rows as they arrive,
 * then publishes them and the manifest in step. Every outcome is a plain value that rank 0
 * broadcasts, so every rank resolves or rejects the same way.
 *
 * A flush either publishes all its rows or changes nothing: the table's state here (columns, rows
 * per rank, bytes, checksum) moves only once its data is renamed into place. The order is fixed:
 * write and fsync the new version, record it in the manifest as `pending`, rename it in, fsync the
 * directory, record it as current. Whatever fails before the rename is undone (the new bytes are
 * truncated or removed), and after the rename nothing can fail the flush, so a retry never
 * writes a row twice.
 */
import { rmSync } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, extname, join } from "node:path";
import { copyFileAtomic, ensureDir } from "./atomic.js";
import { Manifest, type ManifestOutput, type ManifestVersion } from "./manifest.js";
import { mergeColumns, SchemaConflict, type Columns } from "./schema.js";
import { TextTableFile, type Staged } from "./text-file.js";
import { csvHeader } from "./writer-csv.js";
import { ParquetDataset, type ColumnarChunk } from "./writer-parquet.js";

/** File formats of a results table. */
export type ResultsFormat = "jsonl" | "csv" | "parquet";

/** What each rank tells rank 0 before a flush: its row count and columns. */
export interface Summary {
  n: number;
  cols: Columns;
}

/** Rank 0's answer: the columns of this flush, or why it cannot happen. */
export type Plan = { ok: true; columns: Columns; counts: number[] } | { ok: false; error: string };

/** How a flush or checkpoint ended on rank 0. */
export type Outcome = { ok: true; path: string; rows: number; totalRows: number } | { ok: false; error: string; path: string; code?: string; rows: number };

/** The committed state of the table: what the published files hold. */
interface Committed extends ManifestVersion {
  columns: Columns | null;
  rowsPerRank: number[];
  flushes: number;
  closed: boolean;
}

/** A step that failed, with the path it concerns. */
class StepError extends Error {
  constructor(
    readonly step: string,
    override readonly cause: unknown,
  ) {
    super(`could not ${step}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }

  /** The OS error code (`ENOSPC`, `EFBIG`, …), if the cause has one. */
  get code(): string | undefined {
    return (this.cause as NodeJS.ErrnoException | null | undefined)?.code;
  }
}

/** Rank 0's writer of one table. */
export class RootSink {
  readonly manifest: Manifest | null;
  #store: TextTableFile | ParquetDataset | null = null;
  #state: Committed;
  /** This flush: the agreed columns, and the first error (kept so the senders can still drain). */
  #columns: Columns = [];
  #error: StepError | null = null;

  constructor(
    readonly path: string,
    readonly format: ResultsFormat,
    size: number,
    private readonly codec: "SNAPPY" | "UNCOMPRESSED" | undefined,
    withManifest: boolean,
  ) {
    this.#state = { columns: null, rowsPerRank: new Array<number>(size).fill(0), flushes: 0, closed: false, rows: 0, bytes: 0 };
    this.manifest = withManifest ? Manifest.for(dirname(path), size, hostname()) : null;
  }

  /** Agrees the columns for this flush, or says why not (sent to every rank). */
  plan(all: Summary[]): Plan {
    const counts = all.map((s) => s.n);
    if (this.format === "jsonl") return { ok: true, columns: [], counts };
    try {
      const base = this.#state.columns;
      return {
        ok: true,
        columns: mergeColumns(
          base ?? [],
          all.map((s) => s.cols),
          base !== null,
        ),
        counts,
      };
    } catch (e) {
      if (e instanceof SchemaConflict) return { ok: false, error: `${basename(this.path)}: ${e.message}` };
      throw e;
    }
  }

  /** Called after the plan, before the first chunk: opens this flush's writes. */
  prepare(columns: Columns): void {
    this.#error = null;
    this.#columns = columns;
    this.#try(`write ${this.path}`, () => {
      ensureDir(dirname(this.path));
      if (this.format === "parquet") {
        // A Parquet file needs at least one column: an empty first flush waits for rows.
        if (!this.#store && columns.length > 0) this.#store = new ParquetDataset(this.path, columns, this.codec);
      } else {
        this.#store ??= new TextTableFile(this.path);
      }
      this.#store?.begin();
      if (this.format === "csv" && this.#state.columns === null && columns.length > 0) (this.#store as TextTableFile).write(Buffer.from(csvHeader(columns), "utf8"));
    });
  }

  /** Writes one chunk from `source` (rank order is the caller's). Errors are kept for the outcome. */
  write(chunk: Uint8Array | ColumnarChunk, source: number | null): void {
    if (this.#error) return; // keep draining the senders so no rank hangs; report once at publish
    this.#try(`write ${this.path}`, () => {
      if (this.#store instanceof ParquetDataset) this.#store.write(chunk as ColumnarChunk, source);
      else this.#store!.write(chunk as Uint8Array);
    });
  }

  /** Publishes this flush (all of it, or nothing); `closing` also marks the output closed. */
  publish(counts: number[], closing: boolean): Outcome {
    const added = counts.reduce((a, b) => a + b, 0);
    const store = this.#store;
    try {
      if (this.#error) throw this.#error;
      const staged: Staged | null = this.#step(`write ${this.path}`, () => store?.stage() ?? null);
      const next: Committed = {
        ...this.#state,
        columns: this.#state.columns ?? (this.#columns.length > 0 ? (store instanceof ParquetDataset ? store.columns : this.#columns) : null),
        rowsPerRank: this.#state.rowsPerRank.map((n, r) => n + (counts[r] ?? 0)),
        flushes: this.#state.flushes + 1,
        rows: this.#state.rows + added,
        bytes: staged?.bytes ?? 0,
        sha256: staged?.sha256,
        parts: staged?.parts ?? (this.format === "parquet" ? 0 : undefined),
        closed: closing,
      };
      if (store?.changed) {
        this.#step(`update ${this.manifest?.path} before publishing ${this.path}`, () => this.manifest?.output(this.#entry(this.#state, next)));
        let warning: string | undefined;
        try {
          warning = store.publish();
        } catch (e) {
          this.#tryManifest(this.#entry(this.#state)); // the pending record is moot
          throw new StepError(`publish ${this.path}`, e);
        }
        this.#state = next;
        if (warning) this.#warn(warning);
        // The rows are published: a manifest that cannot be updated now keeps `pending`, which
        // describes them. Its directory sync is left to the next flush for the same reason (but
        // not at close: there is no next flush).
        const err = this.#tryManifest(this.#entry(next), closing);
        if (err) this.#warn(`${this.path} is published, but ${this.manifest!.path} still lists it as pending: ${err.message}`);
      } else {
        // Nothing on disk changes: the manifest alone records the flush (and a close).
        this.#step(`update ${this.manifest?.path}`, () => this.manifest?.output(this.#entry(next)));
        this.#state = next;
      }
      if (closing) this.#closeStore();
      return { ok: true, path: this.path, rows: added, totalRows: this.#state.rows };
    } catch (e) {
      store?.abort();
      if (store instanceof ParquetDataset && store.parts === 0) this.#store = null; // columns are fixed by the first published flush
      const err = e instanceof StepError ? e : new StepError(`write ${this.path}`, e);
      return { ok: false, error: err.message, path: this.path, code: err.code, rows: added };
    } finally {
      this.#error = null;
    }
  }

  /** Copies the published output to a checkpoint beside it (whole, or nothing). */
  checkpoint(name: string | undefined): Outcome {
    const ext = extname(this.path);
    const file = name ?? `${basename(this.path, ext)}_${stamp()}${ext}`;
    const target = join(dirname(this.path), file);
    try {
      if (file.includes("/") || file.includes("\\")) throw new Error(`checkpoint name "${file}" must be a file name, not a path`);
      if (this.#state.flushes === 0 || (this.format === "parquet" && this.#state.rows === 0)) throw new Error(`${basename(this.path)} has no rows yet: nothing to checkpoint`);
      const warning = this.#step(`write checkpoint ${target}`, () => (this.#store instanceof ParquetDataset ? this.#store.checkpoint(target) : copyFileAtomic(this.path, target)));
      if (warning) this.#warn(warning);
      const s = this.#state;
      try {
        this.manifest?.checkpoint({ file, of: basename(this.path), rows: s.rows, rowsPerRank: [...s.rowsPerRank], writtenAt: new Date().toISOString() });
      } catch (e) {
        this.#tryRemove(target); // a checkpoint the manifest does not list is not one
        throw new StepError(`record checkpoint ${target} in ${this.manifest!.path}`, e);
      }
      return { ok: true, path: target, rows: 0, totalRows: s.rows };
    } catch (e) {
      const err = e instanceof StepError ? e : new StepError(`checkpoint ${this.path}`, e);
      return { ok: false, error: err.message, path: target, code: err.code, rows: 0 };
    }
  }

  /** The manifest entry for a committed state, with the version being published if any. */
  #entry(s: Committed, pending?: Committed): ManifestOutput {
    const version = (v: Committed): ManifestVersion => ({
      rows: v.rows,
      bytes: v.bytes,
      ...(v.sha256 !== undefined ? { sha256: v.sha256 } : {}),
      ...(v.parts !== undefined ? { parts: v.parts } : {}),
    });
    return {
      file: basename(this.path),
      format: this.format,
      ...version(s),
      rowsPerRank: [...s.rowsPerRank],
      columns: (s.columns ?? []).map(([n]) => n),
      flushes: s.flushes,
      updatedAt: new Date().toISOString(),
      closed: s.closed,
      ...(pending ? { pending: version(pending) } : {}),
    };
  }

  /** Runs one step of a flush; a failure is kept (the first one wins) for the outcome. */
  #try(step: string, fn: () => void): void {
    try {
      this.#step(step, fn);
    } catch {
      // kept in #error
    }
  }

  /** Runs one step of a flush; a failure is kept and thrown, labelled with the step. */
  #step<T>(step: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      this.#error ??= new StepError(step, e);
      throw this.#error;
    }
  }

  #tryManifest(o: ManifestOutput, syncDir = true): Error | null {
    try {
      this.manifest?.output(o, syncDir);
      return null;
    } catch (e) {
      return e as Error;
    }
  }

  #tryRemove(path: string): void {
    try {
      rmSync(path, { recursive: true, force: true }); // a file (CSV, JSONL) or a directory of links (Parquet)
    } catch {
      // The manifest does not list it, so it is not a checkpoint; a stray copy is harmless.
    }
  }

  /** After the last flush: nothing left to fail it, so trouble closing is only a warning. */
  #closeStore(): void {
    try {
      this.#store?.close();
    } catch (e) {
      this.#warn(`closing ${this.path}: ${(e as Error).message}`);
    }
  }

  #warn(msg: string): void {
    process.stderr.write(`[zmpi results] rank 0: ${msg}\n`);
  }
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace(".", "");
}
