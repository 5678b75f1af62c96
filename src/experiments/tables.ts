/**
 * Reading the tables jobs wrote (JSONL, CSV, Parquet) back into rows, and writing a merged table
 * as Parquet and CSV, whole and atomically. CSV cells come back as numbers when they look like
 * numbers and as arrays/objects when they hold JSON, so a CSV baseline compares with a Parquet
 * job table value for value.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { parquetWriteBuffer, type ColumnSource } from "hyparquet-writer";
import { UsageError } from "../errors.js";
import { writeFileAtomic } from "../results/atomic.js";
import type { ColumnType, Row } from "../results/schema.js";
import { csvHeader, encodeCsv } from "../results/writer-csv.js";

/** A table in memory. */
export interface Table {
  columns: string[];
  rows: Row[];
}

/** Splits CSV text (RFC 4180: quoted fields, doubled quotes, line breaks inside quotes) into records. */
export function parseCsv(text: string): string[][] {
  const out: string[][] = [];
  let rec: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  let any = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (c === '"') {
        quoted = false;
        i++;
      } else {
        field += c;
        i++;
      }
      continue;
    }
    if (c === '"' && field === "") {
      quoted = true;
      any = true;
      i++;
    } else if (c === ",") {
      rec.push(field);
      field = "";
      any = true;
      i++;
    } else if (c === "\n" || c === "\r") {
      if (any || field !== "") {
        rec.push(field);
        out.push(rec);
      }
      rec = [];
      field = "";
      any = false;
      i += c === "\r" && text[i + 1] === "\n" ? 2 : 1;
    } else {
      field += c;
      any = true;
      i++;
    }
  }
  if (any || field !== "") {
    rec.push(field);
    out.push(rec);
  }
  return out;
}

const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-?Infinity$|^NaN$/;

/** A CSV cell as a value: empty → null, numbers, booleans, JSON arrays/objects, else the string. */
export function csvValue(s: string): unknown {
  if (s === "") return null;
  if (NUMBER.test(s)) return Number(s);
  if (s === "true" || s === "false") return s === "true";
  if ((s[0] === "[" && s.at(-1) === "]") || (s[0] === "{" && s.at(-1) === "}")) {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      return s;
    }
  }
  return s;
}

function plain(v: unknown): unknown {
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v;
  if (typeof v === "string" && (v[0] === "[" || v[0] === "{")) return csvValue(v);
  return v;
}

/** Reads a JSONL, CSV or Parquet table (by extension; a Parquet table may be a dataset directory of `part-N.parquet` files). */
export async function readTable(path: string): Promise<Table> {
  const ext = extname(path).toLowerCase();
  if (ext === ".parquet") {
    // world.results() writes a Parquet table as a dataset directory, one part per flush.
    const parts = statSync(path).isDirectory()
      ? readdirSync(path)
          .filter((f) => /^part-\d+\.parquet$/.test(f))
          .sort()
          .map((f) => join(path, f))
      : [path];
    const rows: Row[] = [];
    let columns: string[] = [];
    const { parquetMetadataAsync } = await import("hyparquet");
    for (const part of parts) {
      const file = await asyncBufferFromFile(part);
      for (const o of (await parquetReadObjects({ file })) as Row[]) rows.push(Object.fromEntries(Object.entries(o).map(([k, v]) => [k, plain(v)])));
      if (columns.length === 0)
        columns = (await parquetMetadataAsync(file)).schema
          .slice(1)
          .filter((s) => !s.num_children)
          .map((s) => s.name);
    }
    return { columns, rows };
  }
  const text = readFileSync(path, "utf8");
  if (ext === ".csv") {
    const recs = parseCsv(text);
    const columns = recs[0] ?? [];
    return { columns, rows: recs.slice(1).map((r) => Object.fromEntries(columns.map((c, i) => [c, csvValue(r[i] ?? "")]))) };
  }
  if (ext === ".jsonl") {
    const rows: Row[] = [];
    const columns = new Set<string>();
    text.split("\n").forEach((line, n) => {
      if (line.trim() === "") return;
      try {
        const r = JSON.parse(line) as Row;
        for (const k of Object.keys(r)) columns.add(k);
        rows.push(r);
      } catch (e) {
        throw new UsageError(`${path}:${n + 1}: not a JSON object (${(e as Error).message})`, { op: "collect" });
      }
    });
    return { columns: [...columns], rows };
  }
  throw new UsageError(`${path}: tables are .parquet, .csv or .jsonl`, { op: "collect" });
}

/** The Parquet type of a column: numbers DOUBLE, strings STRING, booleans BOOLEAN, anything else (or a mix) JSON. */
function columnType(values: readonly unknown[]): ColumnType {
  let t: ColumnType | null = null;
  for (const v of values) {
    if (v === null || v === undefined) continue;
    const here: ColumnType = typeof v === "number" ? "DOUBLE" : typeof v === "string" ? "STRING" : typeof v === "boolean" ? "BOOLEAN" : typeof v === "bigint" ? "INT64" : "JSON";
    if (t === null) t = here;
    else if (t !== here) return "JSON";
  }
  return t ?? "STRING";
}

/** Writes `table` as Parquet and CSV at `base`.parquet / `base`.csv, each atomically. */
export function writeTable(base: string, table: Table): { parquet: string; csv: string } {
  const cols = table.columns;
  const columnData: ColumnSource[] = cols.map((name) => {
    const data = table.rows.map((r) => (r[name] === undefined ? null : r[name]));
    const type = columnType(data);
    return { name, data: type === "JSON" ? data : data, type, nullable: true };
  });
  const parquet = `${base}.parquet`;
  const csv = `${base}.csv`;
  const buf = table.rows.length
    ? parquetWriteBuffer({ columnData, codec: "SNAPPY" })
    : parquetWriteBuffer({ columnData: cols.map((name) => ({ name, data: [], type: "STRING", nullable: true })) });
  writeFileAtomic(parquet, new Uint8Array(buf));
  const columns = cols.map((c) => [c, null] as [string, ColumnType | null]);
  writeFileAtomic(csv, csvHeader(columns) + encodeCsv(table.rows, columns, null));
  return { parquet, csv };
}
