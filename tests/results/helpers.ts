/** Shared helpers of the results tests: temp dirs, the reference rows, a small CSV parser, reading a table back. */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";

/** A fresh temporary directory. */
export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `zmpi-${tag}-`));
}

/** The fixture's row (tests/fixtures/results-table.ts and results-disk.ts). */
export function row(r: number, i: number): Record<string, unknown> {
  return {
    i,
    x: r + i / 8,
    s: i % 5 === 0 ? `r${r}, "quoted"\nline ${i}` : `r${r}-${i}`,
    flag: i % 2 === 0,
    maybe: i % 3 === 0 ? null : `m${i}`,
  };
}

/** Expected file order: flush by flush, then rank, then append order. */
export function expectedRows(np: number, rows: number, flushes: number, withRank = true): Array<Record<string, unknown>> {
  const per = Math.ceil(rows / flushes);
  const out: Array<Record<string, unknown>> = [];
  for (let f = 0; f < flushes; f++) {
    for (let r = 0; r < np; r++) {
      for (let i = f * per; i < Math.min(rows, (f + 1) * per); i++) out.push(withRank ? { rank: r, ...row(r, i) } : row(r, i));
    }
  }
  return out;
}

/** RFC 4180 parser (quoted fields, doubled quotes, line breaks inside quotes). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let field = "";
  let rec: string[] = [];
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (q) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') q = false;
      else field += c;
    } else if (c === '"') q = true;
    else if (c === ",") {
      rec.push(field);
      field = "";
    } else if (c === "\n") {
      rec.push(field);
      rows.push(rec);
      rec = [];
      field = "";
    } else field += c;
  }
  if (field !== "" || rec.length) {
    rec.push(field);
    rows.push(rec);
  }
  return rows;
}

/**
 * The files of a published table: the file itself, or, for a Parquet dataset directory, its
 * visible parts in order (names starting with `.` or `_` are not part of the table, as for Arrow).
 */
export function tableFiles(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => !f.startsWith(".") && !f.startsWith("_"))
    .sort()
    .map((f) => join(path, f));
}

/** All rows of a Parquet table (one file, or a dataset directory of parts), read back with hyparquet. */
export async function readParquet(path: string): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  for (const f of tableFiles(path)) {
    const file = await asyncBufferFromFile(f);
    out.push(...((await parquetReadObjects({ file })) as Array<Record<string, unknown>>));
  }
  return out;
}

/** Rows of a table in any format (CSV values stay strings). */
export async function readTable(path: string, format: string): Promise<Array<Record<string, unknown>>> {
  if (format === "parquet") return readParquet(path);
  const text = readFileSync(path, "utf8");
  if (format === "jsonl")
    return text === ""
      ? []
      : text
          .trimEnd()
          .split("\n")
          .map((l) => JSON.parse(l) as Record<string, unknown>);
  const [head, ...body] = parseCsv(text);
  return body.map((cells) => Object.fromEntries(head!.map((h, k) => [h, cells[k]])));
}

/** Reference rows as a reader of `format` gives them back (CSV: every value a string, null empty). */
export function asRead(rows: Array<Record<string, unknown>>, format: string): Array<Record<string, unknown>> {
  if (format !== "csv") return rows;
  return rows.map((w) => Object.fromEntries(Object.entries(w).map(([k, v]) => [k, v === null || v === undefined ? "" : String(v)])));
}

/** Bytes and SHA-256 of a table's files (for a directory: over each part's name and content). */
export function digestTable(path: string): { bytes: number; sha256: string } {
  const h = createHash("sha256");
  let bytes = 0;
  const files = tableFiles(path);
  for (const f of files) {
    const data = readFileSync(f);
    bytes += data.length;
    if (files.length === 1 && f === path) h.update(data);
    else h.update(f.slice(path.length)).update(data);
  }
  return { bytes, sha256: h.digest("hex") };
}

/** Leftover temporary or staging files in a directory, and in a dataset directory in it (there must be none after a clean run). */
export function leftovers(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    if (f.endsWith(".tmp") || f.endsWith(".staging") || f.endsWith(".spare")) out.push(f);
    const p = join(dir, f);
    if (statSync(p).isDirectory()) for (const g of readdirSync(p)) if (g.startsWith(".")) out.push(join(f, g));
  }
  return out;
}
