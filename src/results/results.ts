/**
 * `world.results(path)`: a table every rank appends to and only rank 0 writes. `append` buffers
 * locally; `flush()` (collective) agrees on the columns, streams every rank's rows to rank 0 in
 * rank order, and rank 0 publishes the whole table so far by an atomic rename. Other ranks never
 * open the output directory.
 */
import { closeSync, existsSync, openSync, rmSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, extname, join, resolve } from "node:path";
import { UsageError } from "../errors.js";
import type { Communicator } from "../groups/communicator.js";
import { commitTmp, copyFileAtomic, copyToTmp, ensureDir } from "./atomic.js";
import { Manifest } from "./manifest.js";
import { inferColumns, mergeColumns, SchemaConflict, type ColumnType, type Columns, type Row } from "./schema.js";
import { receiveRows, sendRows, type StreamOptions } from "./stream.js";
import { csvHeader, encodeCsv } from "./writer-csv.js";
import { encodeJsonl } from "./writer-jsonl.js";
import { encodeColumnar, ParquetStaging, type ColumnarChunk } from "./writer-parquet.js";

/** File formats of a results table. */
export type ResultsFormat = "jsonl" | "csv" | "parquet";

/** Options of `world.results()`. */
export interface ResultsOptions {
  /** Format; default from the path's extension, else `jsonl`. The extension is added when missing. */
  format?: ResultsFormat;
  /** Add a `rank` column (the appending rank) first in every row. Default true. */
  rank?: boolean;
  /** Column types that override inference (Parquet), e.g. `{ step: "INT64" }`. */
  columns?: Record<string, ColumnType>;
  /** Rows per chunk on the wire and per Parquet row group. Default 10 000. */
  chunkRows?: number;
  /** Chunks in flight per sender during a flush. Default 4. */
  window?: number;
  /** Parquet compression. Default `SNAPPY`. */
  codec?: "SNAPPY" | "UNCOMPRESSED";
  /** Keep `manifest.json` in the output's directory. Default true. */
  manifest?: boolean;
  /** Deadline of each wait during a flush, ms (default: the communicator's). */
  timeoutMs?: number;
}

/** What a flush or checkpoint did, the same on every rank. */
export interface FlushResult {
  /** Absolute path of the file written. */
  path: string;
  /** Rows this call added, and rows in the file now. */
  rows: number;
  totalRows: number;
}

/** Extra wiring from the world (failure notice, size), kept out of the options users see. */
export interface ResultsHooks {
  /** Called once if the job fails, so rank 0 can mark the manifest failed. */
  onFailure?(listener: (err: Error) => void): void;
}

const EXT: Record<ResultsFormat, string> = { jsonl: ".jsonl", csv: ".csv", parquet: ".parquet" };

/** Resolves the path and format from what the user gave. */
export function resolveOutput(path: string, format: ResultsFormat | undefined): { path: string; format: ResultsFormat } {
  const ext = extname(path).toLowerCase();
  const fromExt = (Object.keys(EXT) as ResultsFormat[]).find((f) => EXT[f] === ext);
  const f = format ?? fromExt ?? "jsonl";
  if (!(f in EXT)) throw new UsageError(`results format must be jsonl, csv or parquet, got ${String(f)}`, { op: "results" });
  return { path: resolve(ext === EXT[f] ? path : path + EXT[f]), format: f };
}

interface Summary {
  n: number;
  cols: Columns;
}

type Plan = { ok: true; columns: Columns; counts: number[] } | { ok: false; error: string };
type Outcome = { ok: true; path: string; rows: number; totalRows: number } | { ok: false; error: string };

/** A results table. Create it with `world.results(path, opts)` on every rank. */
export class ResultsWriter {
  /** Absolute path of the output. */
  readonly path: string;
  /** Its format. */
  readonly format: ResultsFormat;
  private rows: Row[] = [];
  private comm: Promise<Communicator> | null = null;
  private readonly root: RootSink | null;
  private readonly fixed: Record<string, ColumnType>;
  private readonly stream: StreamOptions;
  private closedFlag = false;
  private chain: Promise<unknown> = Promise.resolve();

  /** @internal use `world.results()` */
  constructor(
    private readonly parent: Communicator,
    path: string,
    private readonly opts: ResultsOptions = {},
    hooks: ResultsHooks = {},
  ) {
    const out = resolveOutput(path, opts.format);
    this.path = out.path;
    this.format = out.format;
    const chunkRows = opts.chunkRows ?? 10_000;
    const window = opts.window ?? 4;
    if (!Number.isInteger(chunkRows) || chunkRows < 1) throw new UsageError(`chunkRows must be a positive integer, got ${chunkRows}`, { op: "results" });
    if (!Number.isInteger(window) || window < 1) throw new UsageError(`window must be a positive integer, got ${window}`, { op: "results" });
    this.stream = { chunkRows, window, timeoutMs: opts.timeoutMs };
    this.fixed = { ...(this.withRank ? { rank: "INT32" as const } : {}), ...(opts.columns ?? {}) };
    // Only rank 0 ever touches the file system; everything below is null elsewhere.
    this.root = parent.rank === 0 ? new RootSink(this.path, this.format, parent.size, opts) : null;
    if (this.root) hooks.onFailure?.((err) => this.root!.manifest?.fail(err.message));
  }

  private get withRank(): boolean {
    return this.opts.rank !== false;
  }

  /** Rows appended here and not yet flushed. */
  get pending(): number {
    return this.rows.length;
  }

  /** True once {@link close} has been called. */
  get closed(): boolean {
    return this.closedFlag;
  }

  /** Buffers one row (a plain object) on this rank. */
  append(row: Row): void {
    if (this.closedFlag) throw new UsageError(`results ${this.path} is closed`, { op: "append" });
    if (row === null || typeof row !== "object" || Array.isArray(row)) throw new UsageError(`a results row must be a plain object, got ${Array.isArray(row) ? "an array" : typeof row}`, { op: "append" });
    this.rows.push(row);
  }

  /** Buffers several rows on this rank, in order. */
  appendMany(rows: Iterable<Row>): void {
    for (const r of rows) this.append(r);
  }

  /**
   * Collective: every rank's buffered rows go to rank 0, which appends them (rank order, then
   * append order) and atomically replaces the output with the whole table so far.
   */
  flush(): Promise<FlushResult> {
    return this.serial(() => this.doFlush());
  }

  /**
   * Collective: flushes, then rank 0 copies the complete output to `name` in the same directory
   * (default `<stem>_<UTC timestamp>.<ext>`), atomically. The copy is never touched again, so it
   * survives anything that happens later.
   */
  checkpoint(name?: string): Promise<FlushResult> {
    return this.serial(async () => {
      const f = await this.doFlush();
      const comm = await this.dupComm();
      const mine: Outcome | undefined = this.root ? this.root.checkpoint(name) : undefined;
      return unwrap(await comm.bcast(mine, 0, { timeoutMs: this.opts.timeoutMs }), "checkpoint") ?? f;
    });
  }

  /** Collective: a last flush, then the output is marked closed (and the run complete in the manifest once every output is). */
  close(): Promise<FlushResult> {
    return this.serial(async () => {
      const f = await this.doFlush();
      this.closedFlag = true;
      this.root?.close();
      return f;
    });
  }

  // Flushes and checkpoints are collective and must run one after another on every rank.
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => {});
    return p;
  }

  private dupComm(): Promise<Communicator> {
    // A private communicator, so flush traffic can never match the user's own receives.
    if (!this.comm) this.comm = this.parent.dup(`${this.parent.name}.results(${basename(this.path)})`);
    return this.comm;
  }

  private async doFlush(): Promise<FlushResult> {
    if (this.closedFlag) throw new UsageError(`results ${this.path} is closed`, { op: "flush" });
    const comm = await this.dupComm();
    const rows = this.rows;
    this.rows = [];
    const t = this.opts.timeoutMs;
    const summary: Summary = { n: rows.length, cols: this.columnsOf(rows) };
    const all = await comm.gather(summary, 0, { timeoutMs: t });
    const plan = await comm.bcast<Plan>(this.root ? this.root.plan(all!) : undefined, 0, { timeoutMs: t });
    if (!plan.ok) {
      this.rows = rows.concat(this.rows); // nothing was written: keep the rows for a corrected flush
      throw new UsageError(plan.error, { comm: this.parent.name, op: "results.flush" });
    }
    const rank = this.withRank ? comm.rank : null;
    const encode = this.encoder(plan.columns, rank);
    if (this.root) {
      const root = this.root;
      const enc0 = this.encoder(plan.columns, this.withRank ? 0 : null);
      root.prepare(plan.columns);
      await receiveRows(comm, rows, plan.counts, this.stream, enc0, (chunk, src) => root.write(chunk, this.withRank ? src : null));
    } else {
      await sendRows(comm, rows, this.stream, encode);
    }
    const outcome = await comm.bcast<Outcome>(this.root ? this.root.publish(plan.counts) : undefined, 0, { timeoutMs: t });
    return unwrap(outcome, "flush")!;
  }

  /** This rank's columns, `rank` first (only when there are rows, so an empty flush fixes nothing). */
  private columnsOf(rows: readonly Row[]): Columns {
    if (this.format === "jsonl" || rows.length === 0) return [];
    const cols = inferColumns(rows, this.fixed);
    return this.withRank ? [["rank", this.fixed.rank ?? "INT32"], ...cols.filter(([n]) => n !== "rank")] : cols;
  }

  private encoder(columns: Columns, rank: number | null): (rows: readonly Row[]) => Uint8Array | ColumnarChunk {
    switch (this.format) {
      case "jsonl":
        return (rows) => Buffer.from(encodeJsonl(rows, rank), "utf8");
      case "csv":
        return (rows) => Buffer.from(encodeCsv(rows, columns, rank), "utf8");
      case "parquet":
        return (rows) => encodeColumnar(rows, columns, rank);
    }
  }
}

function unwrap(o: Outcome | undefined, op: string): FlushResult | undefined {
  if (o === undefined) return undefined;
  if (!o.ok) throw new UsageError(`rank 0 could not write the results: ${o.error}`, { op: `results.${op}` });
  return { path: o.path, rows: o.rows, totalRows: o.totalRows };
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace(".", "");
}

/** Rank 0's side: the staging file, the published output, the manifest entry. */
class RootSink {
  readonly manifest: Manifest | null;
  private readonly staging: string;
  private columns: Columns | null = null;
  private fd: number | null = null;
  private parquet: ParquetStaging | null = null;
  private readonly rowsPerRank: number[];
  private flushes = 0;
  private error: string | null = null;
  private closedFlag = false;

  constructor(
    readonly path: string,
    readonly format: ResultsFormat,
    size: number,
    private readonly opts: ResultsOptions,
  ) {
    this.staging = join(dirname(path), `.${basename(path)}.staging`);
    this.rowsPerRank = new Array<number>(size).fill(0);
    this.manifest = opts.manifest === false ? null : Manifest.for(dirname(path), size, hostname());
  }

  private get total(): number {
    return this.rowsPerRank.reduce((a, b) => a + b, 0);
  }

  /** Agrees the columns for this flush, or says why not (sent to every rank). */
  plan(all: Summary[]): Plan {
    const counts = all.map((s) => s.n);
    if (this.format === "jsonl") return { ok: true, columns: [], counts };
    try {
      const columns = mergeColumns(this.columns ?? [], all.map((s) => s.cols), this.columns !== null);
      return { ok: true, columns, counts };
    } catch (e) {
      if (e instanceof SchemaConflict) return { ok: false, error: `${basename(this.path)}: ${e.message}` };
      throw e;
    }
  }

  private open(columns: Columns): void {
    ensureDir(dirname(this.path));
    if (this.format === "parquet") {
      // A Parquet file needs at least one column: an empty first flush waits for rows.
      if (this.parquet === null && columns.length > 0) {
        this.parquet = new ParquetStaging(this.staging, columns, this.opts.codec);
        this.columns = this.parquet.columns;
      }
      return;
    }
    if (this.fd === null) this.fd = openSync(this.staging, "w");
    if (this.format === "csv" && this.columns === null && columns.length > 0) {
      this.columns = columns;
      this.append(Buffer.from(csvHeader(columns), "utf8"));
    }
  }

  private append(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.byteLength) off += writeSync(this.fd!, bytes, off, bytes.byteLength - off);
  }

  /** Writes one chunk from `source` (rank order is the caller's). Errors are kept for the outcome. */
  write(chunk: Uint8Array | ColumnarChunk, source: number | null): void {
    if (this.error) return; // keep draining the senders so no rank hangs; report once at publish
    try {
      if (this.format === "parquet") this.parquet!.write(chunk as ColumnarChunk, source);
      else this.append(chunk as Uint8Array);
    } catch (e) {
      this.error = (e as Error).message;
    }
  }

  /** Publishes the whole table so far; the outcome goes to every rank. */
  publish(counts: number[]): Outcome {
    try {
      if (this.error) throw new Error(this.error);
      const added = counts.reduce((a, b) => a + b, 0);
      counts.forEach((n, r) => (this.rowsPerRank[r]! += n));
      this.flushes++;
      if (this.format === "parquet") {
        // No columns yet means no rows yet: there is no Parquet file to publish.
        if (this.parquet) this.parquet.publish(this.path);
      } else {
        commitTmp(copyToTmp(this.staging, this.path), this.path);
      }
      this.record();
      return { ok: true, path: this.path, rows: added, totalRows: this.total };
    } catch (e) {
      const msg = (e as Error).message;
      this.error = null;
      return { ok: false, error: msg };
    }
  }

  /** Called after the plan, before the first chunk: opens the staging file with the agreed columns. */
  prepare(columns: Columns): void {
    try {
      this.open(columns);
    } catch (e) {
      this.error = (e as Error).message;
    }
  }

  /** Copies the published output to a checkpoint file. */
  checkpoint(name: string | undefined): Outcome {
    try {
      const ext = extname(this.path);
      const file = name ?? `${basename(this.path, ext)}_${stamp()}${ext}`;
      if (file.includes("/") || file.includes("\\")) throw new Error(`checkpoint name "${file}" must be a file name, not a path`);
      const target = join(dirname(this.path), file);
      if (!existsSync(this.path)) throw new Error(`${basename(this.path)} has no rows yet: nothing to checkpoint`);
      copyFileAtomic(this.path, target);
      this.manifest?.checkpoint({ file, of: basename(this.path), rows: this.total, rowsPerRank: [...this.rowsPerRank], writtenAt: new Date().toISOString() });
      return { ok: true, path: target, rows: 0, totalRows: this.total };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  }

  private record(): void {
    this.manifest?.output({
      file: basename(this.path),
      format: this.format,
      rows: this.total,
      rowsPerRank: [...this.rowsPerRank],
      columns: (this.columns ?? []).map(([n]) => n),
      flushes: this.flushes,
      updatedAt: new Date().toISOString(),
      closed: this.closedFlag,
    });
  }

  /** Closes the staging file and removes it; the manifest marks the output closed. */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (this.fd !== null) closeSync(this.fd);
    this.parquet?.close();
    rmSync(this.staging, { force: true });
    this.record();
  }
}
