/**
 * `world.results(path)`: a table every rank appends to and only rank 0 writes. `append` buffers
 * locally; `flush()` (collective) agrees on the columns, streams every rank's rows to rank 0 in
 * rank order, and rank 0 appends them and publishes the new version atomically (see root-sink.ts
 * for the order of writes, text-file.ts and writer-parquet.ts for the layouts). Other ranks never
 * open the output directory. A flush that fails changes nothing on disk and keeps its rows.
 */
import { basename, extname, resolve } from "node:path";
import { UsageError } from "../errors.js";
import type { Communicator } from "../groups/communicator.js";
import { RootSink, type Outcome, type Plan, type ResultsFormat, type Summary } from "./root-sink.js";
import { inferColumns, type ColumnType, type Columns, type Row } from "./schema.js";
import { receiveRows, sendRows, type StreamOptions } from "./stream.js";
import { encodeCsv } from "./writer-csv.js";
import { encodeJsonl } from "./writer-jsonl.js";
import { encodeColumnar, type ColumnarChunk } from "./writer-parquet.js";
import { ResultsWriteError } from "./write-error.js";

export type { ResultsFormat } from "./root-sink.js";

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

/** A results table. Create it with `world.results(path, opts)` on every rank. */
export class ResultsWriter {
  /** Absolute path of the output: a file (CSV, JSONL), or a directory of part files (Parquet). */
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
    this.root = parent.rank === 0 ? new RootSink(this.path, this.format, parent.size, opts.codec, opts.manifest !== false) : null;
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
    if (row === null || typeof row !== "object" || Array.isArray(row))
      throw new UsageError(`a results row must be a plain object, got ${Array.isArray(row) ? "an array" : typeof row}`, { op: "append" });
    this.rows.push(row);
  }

  /** Buffers several rows on this rank, in order. */
  appendMany(rows: Iterable<Row>): void {
    for (const r of rows) this.append(r);
  }

  /**
   * Collective: every rank's buffered rows go to rank 0, which appends them (rank order, then
   * append order) and publishes the table's new version atomically. The cost is in proportion to
   * the rows of this flush, not to the table.
   *
   * If rank 0 cannot write (a full disk, a file size limit, a permission), the flush rejects on
   * every rank with a {@link ResultsWriteError} naming rank 0, the path and the OS error; nothing
   * on disk changed (the published table and `manifest.json` are as before), and every rank keeps
   * its rows of this flush in {@link pending}, ahead of rows appended since, so the next `flush()`
   * writes them, once. A bad row (a column type conflict) rejects with a `UsageError`, rows kept.
   *
   * @example
   * ```ts
   * const table = world.results("out/scores.csv");
   * table.append({ step: 1, loss: 0.25 });
   * try {
   *   const { totalRows } = await table.flush(); // same result on every rank
   * } catch (e) {
   *   if (e instanceof ResultsWriteError) world.log.warn(`not written (${e.code}), ${table.pending} rows kept`);
   * }
   * ```
   */
  flush(): Promise<FlushResult> {
    return this.serial(() => this.doFlush(false));
  }

  /**
   * Collective: flushes, then rank 0 copies the complete output to `name` in the same directory
   * (default `<stem>_<UTC timestamp>.<ext>`), atomically: a whole copy or none (a failed
   * checkpoint rejects everywhere with a {@link ResultsWriteError} and leaves nothing behind). The
   * copy is never touched again, so it survives anything that happens later. A Parquet checkpoint
   * is a directory of hard links to the parts (which never change), so it costs no data copy.
   */
  checkpoint(name?: string): Promise<FlushResult> {
    return this.serial(async () => {
      const f = await this.doFlush(false);
      const comm = await this.dupComm();
      const mine: Outcome | undefined = this.root ? this.root.checkpoint(name) : undefined;
      const o = await comm.bcast(mine, 0, { timeoutMs: this.opts.timeoutMs });
      if (!o.ok) throw this.writeError(o, "results.checkpoint", "no checkpoint was made; the table itself is unchanged");
      return { ...f, path: o.path };
    });
  }

  /**
   * Collective: a last flush, then the output is marked closed (and the run complete in the
   * manifest once every output is). If that flush fails, the table stays open with its rows
   * pending, and `close()` may be called again.
   */
  close(): Promise<FlushResult> {
    return this.serial(async () => {
      const f = await this.doFlush(true);
      this.closedFlag = true;
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

  private async doFlush(closing: boolean): Promise<FlushResult> {
    if (this.closedFlag) throw new UsageError(`results ${this.path} is closed`, { op: "flush" });
    const comm = await this.dupComm();
    const rows = this.rows;
    this.rows = [];
    // Nothing of this flush reached the disk: its rows go back ahead of any appended since.
    const keep = () => (this.rows = rows.concat(this.rows));
    const t = this.opts.timeoutMs;
    const summary: Summary = { n: rows.length, cols: this.columnsOf(rows) };
    const all = await comm.gather(summary, 0, { timeoutMs: t });
    const plan = await comm.bcast<Plan>(this.root ? this.root.plan(all!) : undefined, 0, { timeoutMs: t });
    if (!plan.ok) {
      keep();
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
    const outcome = await comm.bcast<Outcome>(this.root ? this.root.publish(plan.counts, closing) : undefined, 0, { timeoutMs: t });
    if (!outcome.ok) {
      keep();
      const op = closing ? "results.close" : "results.flush";
      throw this.writeError(
        outcome,
        op,
        `nothing was written (the published table and manifest are unchanged); the ${outcome.rows} rows of this flush are kept on their ranks for the next flush`,
      );
    }
    return { path: outcome.path, rows: outcome.rows, totalRows: outcome.totalRows };
  }

  private writeError(o: Extract<Outcome, { ok: false }>, op: string, consequence: string): ResultsWriteError {
    return new ResultsWriteError(`rank 0 ${o.error}; ${consequence}`, { comm: this.parent.name, op, path: o.path, code: o.code });
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
