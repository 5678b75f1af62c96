/**
 * Parquet through hyparquet-writer's incremental `ParquetWriter`: every chunk that reaches rank 0
 * becomes one row group appended to a staging file, so rank 0 never holds more than a chunk. A
 * Parquet file is only readable once its footer (schema, row-group offsets) is written, so
 * publishing copies the staging data to a temporary file, appends a footer describing every row
 * group so far, and renames it into place; the staging file stays open for the next flush.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { ByteWriter, ParquetWriter, schemaFromColumnData, type ColumnSource } from "hyparquet-writer";
import { commitTmp, copyToTmp } from "./atomic.js";
import type { ColumnType, Columns, Row } from "./schema.js";

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
  constructor(
    private readonly fd: number,
    startOffset: number,
  ) {
    super(1 << 16);
    this.offset = startOffset;
  }

  /** Writes what is buffered and empties the buffer. */
  flush(): void {
    const bytes = new Uint8Array(this.buffer, 0, this.index);
    let off = 0;
    while (off < bytes.byteLength) off += writeSync(this.fd, bytes, off, bytes.byteLength - off);
    this.index = 0;
  }

  override finish(): void {
    this.flush();
  }
}

/** Parquet type of a column whose values were all null so far. */
const NULL_COLUMN_TYPE: ColumnType = "STRING";

/** Appends row groups to a staging file; {@link publish} makes a complete file of everything so far. */
export class ParquetStaging {
  private readonly fd: number;
  private readonly sink: FdWriter;
  private readonly pw: ParquetWriter;
  private readonly types: Map<string, ColumnType>;
  private closed = false;

  /** Creates (truncates) the staging file and writes the Parquet header. */
  constructor(
    private readonly stagingPath: string,
    columns: Columns,
    private readonly codec: "SNAPPY" | "UNCOMPRESSED" = "SNAPPY",
  ) {
    this.types = new Map(columns.map(([n, t]) => [n, t ?? NULL_COLUMN_TYPE]));
    const schema = schemaFromColumnData({
      columnData: [...this.types].map(([name, type]) => ({ name, data: [], type, nullable: true })),
    });
    this.fd = openSync(stagingPath, "w");
    this.sink = new FdWriter(this.fd, 0);
    this.pw = new ParquetWriter({ writer: this.sink, schema, codec, createdBy: "zmpi" });
    this.sink.flush();
  }

  /** The fixed columns of this file (null-only columns got {@link NULL_COLUMN_TYPE}). */
  get columns(): Columns {
    return [...this.types];
  }

  /** Writes one chunk as one row group; `rank` fills the `rank` column when the chunk left it out. */
  write(chunk: ColumnarChunk, rank: number | null): void {
    if (chunk.n === 0) return;
    const columnData: ColumnSource[] = [];
    for (const [name, type] of this.types) {
      let data = chunk.cols[name];
      if (!data) data = name === "rank" && rank !== null ? new Array<number>(chunk.n).fill(rank) : new Array<null>(chunk.n).fill(null);
      columnData.push({ name, data: convert(data, type), type, nullable: true });
    }
    // One row group per chunk: the writer encodes and flushes it before the next chunk arrives.
    void this.pw.write({ columnData, rowGroupSize: chunk.n });
  }

  /** Writes a complete Parquet file of every row group so far to `target`, atomically. */
  publish(target: string): void {
    this.sink.flush();
    const tmp = copyToTmp(this.stagingPath, target);
    const fd = openSync(tmp, "a");
    try {
      // finish() writes indexes and the footer through `this.writer`; run it on a shallow copy whose
      // writer appends to the copy, so the staging file stays footer-less and open for more groups.
      const end = new FdWriter(fd, this.sink.offset);
      const shadow = Object.assign(Object.create(ParquetWriter.prototype) as ParquetWriter, this.pw, { writer: end });
      void shadow.finish();
    } finally {
      closeSync(fd);
    }
    commitTmp(tmp, target);
  }

  /** Closes the staging file (it is removed by the owner). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
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
