/**
 * Parquet through hyparquet-writer's incremental `ParquetWriter`, as a dataset directory: each flush
 * that has rows writes one part file (`part-000000.parquet`, `part-000001.parquet`, …; one row
 * group per chunk that reaches rank 0, so rank 0 never holds more than a chunk) and publishes it by
 * rename. A Parquet file is readable only once its footer is written, and the footer lists every
 * row group, so one growing file would cost each flush a footer as long as the whole history; a
 * part per flush costs in proportion to that flush's rows. Parts are never modified once published,
 * so a checkpoint is a directory of hard links. Parts are written under hidden names (`.part-….tmp`)
 * that readers skip (Arrow ignores `.`- and `_`-prefixed files), so a failed or killed flush never
 * shows a half-written part; the first flush builds the whole directory under a hidden name and
 * renames it into place, replacing a table left by an earlier run.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ByteWriter, ParquetWriter, schemaFromColumnData, type ColumnSource } from "hyparquet-writer";
import { fsyncDir, replaceWithDir, snapshotDirAtomic, tmpPathFor, writeAll } from "./atomic.js";
import type { ColumnType, Columns, Row } from "./schema.js";
import type { Staged } from "./text-file.js";
/** Rows of one chunk, column by column (smaller on the wire than objects: no repeated keys). */
export interface ColumnarChunk {
  /** Row count. */
  n: number;
  /** Values per column name; a column missing here is all nulls. */
  cols: Record<string, unknown[]>;
}

/** Turns rows into a columnar chunk for the given columns (the `rank` column is left to rank 0). */
export function encodeColumnar(rows: readonly Row[], columns: Columns, rank: number | null): ColumnarChunk {
  const cols: Record<string, unknown[]> = {};
  for (const [name] of columns) {
    if (name === "rank" && rank !== null && !rows.some((r) => "rank" in r)) continue;
    const a = new Array<unknown>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const v = rows[i]![name];
      a[i] = v === undefined ? null : v;
    }
    cols[name] = a;
  }
  return { n: rows.length, cols };
}

/** A ByteWriter that spills to a file descriptor whenever hyparquet-writer flushes a row group. */
class FdWriter extends ByteWriter {
  constructor(private readonly fd: number) {
    super(1 << 16);
  }

  /** Writes what is buffered and empties the buffer. */
  flush(): void {
    writeAll(this.fd, new Uint8Array(this.buffer, 0, this.index));
    this.index = 0;
  }

  override finish(): void {
    this.flush();
  }
}

/** Parquet type of a column whose values were all null so far. */
const NULL_COLUMN_TYPE: ColumnType = "STRING";

/** Name of the k-th part (zero-padded, so name order is flush order up to a million flushes). */
function partName(k: number): string {
  return `part-${String(k).padStart(6, "0")}.parquet`;
}

/** The part being written by the current flush. */
interface OpenPart {
  /** Hidden path it is written under. */
  tmp: string;
  /** First flush only: the hidden directory that becomes the dataset. */
  freshDir: string | null;
  fd: number;
  sink: FdWriter;
  pw: ParquetWriter;
  /** Set by stage(): the part is complete and synced. */
  bytes: number | null;
}

/** A Parquet dataset directory (rank 0 only). Columns are fixed by the first flush that has rows. */
export class ParquetDataset {
  readonly #path: string;
  readonly #types: Map<string, ColumnType>;
  readonly #schema: ReturnType<typeof schemaFromColumnData>;
  readonly #codec: "SNAPPY" | "UNCOMPRESSED";
  /** Published parts and their total bytes. */
  #parts = 0;
  #bytes = 0;
  #open: OpenPart | null = null;

  constructor(path: string, columns: Columns, codec: "SNAPPY" | "UNCOMPRESSED" = "SNAPPY") {
    this.#path = path;
    this.#codec = codec;
    this.#types = new Map(columns.map(([n, t]) => [n, t ?? NULL_COLUMN_TYPE]));
    this.#schema = schemaFromColumnData({
      columnData: [...this.#types].map(([name, type]) => ({ name, data: [], type, nullable: true })),
    });
  }

  /** The fixed columns of this table (null-only columns got {@link NULL_COLUMN_TYPE}). */
  get columns(): Columns {
    return [...this.#types];
  }

  /** Published part files. */
  get parts(): number {
    return this.#parts;
  }

  /** Nothing to prepare: a part is opened by the flush's first rows. */
  begin(): void {}

  /** Writes one chunk as one row group; `rank` fills the `rank` column when the chunk left it out. */
  write(chunk: ColumnarChunk, rank: number | null): void {
    if (chunk.n === 0) return;
    const part = this.#open ?? this.#openPart();
    const columnData: ColumnSource[] = [];
    for (const [name, type] of this.#types) {
      let data = chunk.cols[name];
      if (!data) data = name === "rank" && rank !== null ? new Array<number>(chunk.n).fill(rank) : new Array<null>(chunk.n).fill(null);
      columnData.push({ name, data: convert(data, type), type, nullable: true });
    }
    // One row group per chunk: the writer encodes and flushes it before the next chunk arrives.
    void part.pw.write({ columnData, rowGroupSize: chunk.n });
  }

  /** True when this flush wrote rows (and so has a part to publish). */
  get changed(): boolean {
    return this.#open !== null;
  }

  /** Ends the writes: footer, fsync, close; says what the dataset will be. */
  stage(): Staged {
    const part = this.#open;
    if (part && part.bytes === null) {
      void part.pw.finish();
      fsyncSync(part.fd);
      closeSync(part.fd);
      part.fd = -1;
      part.bytes = part.sink.offset;
    }
    return part ? { bytes: this.#bytes + part.bytes!, parts: this.#parts + 1 } : { bytes: this.#bytes, parts: this.#parts };
  }

  /** Renames the staged part (or, the first time, the whole directory) into place. */
  publish(): string | undefined {
    const part = this.#open;
    if (!part) return undefined;
    let warning: string | undefined;
    if (part.freshDir) warning = replaceWithDir(part.freshDir, this.#path);
    else renameSync(part.tmp, join(this.#path, partName(this.#parts)));
    this.#open = null;
    this.#parts++;
    this.#bytes += part.bytes!;
    if (part.freshDir) return warning; // replaceWithDir synced both directories
    try {
      fsyncDir(this.#path);
      return undefined;
    } catch (e) {
      return `fsync of ${this.#path} failed (${(e as Error).message}): the rename may not survive a power loss`;
    }
  }

  /** Undoes a failed flush: the hidden part (or directory) goes, freeing the space. */
  abort(): void {
    const part = this.#open;
    if (!part) return;
    this.#open = null;
    if (part.fd >= 0) closeSync(part.fd);
    rmSync(part.freshDir ?? part.tmp, { recursive: true, force: true });
  }

  /** A snapshot of the dataset at `target` (hard links: parts never change). */
  checkpoint(target: string): string | undefined {
    return snapshotDirAtomic(this.#path, target);
  }

  /** Drops an unfinished part; published parts stay. */
  close(): void {
    this.abort();
  }

  #openPart(): OpenPart {
    const name = partName(this.#parts);
    let freshDir: string | null = null;
    let tmp: string;
    if (this.#parts === 0) {
      freshDir = tmpPathFor(this.#path);
      mkdirSync(freshDir);
      tmp = join(freshDir, name);
    } else {
      tmp = tmpPathFor(join(this.#path, name));
    }
    let fd = -1;
    try {
      fd = openSync(tmp, "w");
      const sink = new FdWriter(fd);
      const pw = new ParquetWriter({ writer: sink, schema: this.#schema, codec: this.#codec, createdBy: "zmpi" });
      this.#open = { tmp, freshDir, fd, sink, pw, bytes: null };
      sink.flush();
      return this.#open;
    } catch (e) {
      this.#open = null;
      if (fd >= 0) closeSync(fd);
      rmSync(freshDir ?? tmp, { recursive: true, force: true });
      throw e;
    }
  }
}

function convert(data: unknown[], type: ColumnType): unknown[] {
  switch (type) {
    case "INT64":
      return data.map((v) => (v === null || typeof v === "bigint" ? v : BigInt(Math.trunc(Number(v)))));
    case "INT32":
      return data.map((v) => (v === null ? v : Number(v) | 0));
    case "DOUBLE":
      return data.map((v) => (v === null ? v : Number(v)));
    case "TIMESTAMP":
      return data.map((v) => (v === null || v instanceof Date ? v : new Date(v as string | number)));
    default:
      return data;
  }
}
