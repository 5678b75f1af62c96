/**
 * CSV (RFC 4180): a header line, then one line per row. Fields holding a comma, a quote, a line
 * break or edge spaces are quoted, with quotes doubled; null and undefined are empty fields;
 * objects are JSON; dates are ISO 8601.
 */
import type { Columns, Row } from "./schema.js";
import { jsonReplacer } from "./writer-jsonl.js";

const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

/** One CSV field, quoted when needed. */
export function csvField(v: unknown): string {
  let s: string;
  if (v === null || v === undefined) return "";
  if (typeof v === "string") s = v;
  else if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") s = String(v);
  else if (v instanceof Date) s = v.toISOString();
  else s = JSON.stringify(v, jsonReplacer);
  return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The header line for `columns`. */
export function csvHeader(columns: Columns): string {
  return `${columns.map(([name]) => csvField(name)).join(",")}\n`;
}

/** Encodes rows as CSV lines in the order of `columns`; the `rank` column takes `rank` when given. */
export function encodeCsv(rows: readonly Row[], columns: Columns, rank: number | null): string {
  const names = columns.map(([n]) => n);
  let out = "";
  for (const row of rows) {
    let line = "";
    for (let i = 0; i < names.length; i++) {
      const n = names[i]!;
      const v = n === "rank" && rank !== null && !(n in row) ? rank : row[n];
      line += (i ? "," : "") + csvField(v);
    }
    out += `${line}\n`;
  }
  return out;
}
