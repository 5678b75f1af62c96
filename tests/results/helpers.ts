/** Shared helpers of the results tests: temp dirs, the reference rows, a small CSV parser, Parquet reading. */
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";

/** A fresh temporary directory. */
export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `zmpi-${tag}-`));
}

/** The fixture's row (tests/fixtures/results-table.ts). */
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

/** All rows of a Parquet file, read back with hyparquet. */
export async function readParquet(path: string): Promise<Array<Record<string, unknown>>> {
  const file = await asyncBufferFromFile(path);
  return (await parquetReadObjects({ file })) as Array<Record<string, unknown>>;
}

/** Leftover temporary or staging files in a directory (there must be none after a clean run). */
export function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith(".tmp") || f.endsWith(".staging"));
}
