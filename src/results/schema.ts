/**
 * Column types of a results table: inferred from the rows each rank holds, merged on rank 0 in
 * rank order, then fixed for the life of the output (CSV's header and Parquet's schema cannot
 * change once the first rows are on disk).
 */

/** Column types a results table can hold (Parquet's basic types; CSV and JSONL ignore them). */
export type ColumnType = "BOOLEAN" | "INT32" | "INT64" | "DOUBLE" | "STRING" | "TIMESTAMP" | "JSON";

/** One row: a plain object. */
export type Row = Record<string, unknown>;

/** Columns in order, with their types (null: only nulls seen so far). */
export type Columns = Array<[name: string, type: ColumnType | null]>;

/** The type a single value asks for, or null for null/undefined. */
function typeOfValue(v: unknown): ColumnType | null {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case "boolean":
      return "BOOLEAN";
    case "number":
      // Always DOUBLE: a column that holds only integers in one flush may get 0.5 in the next.
      return "DOUBLE";
    case "bigint":
      return "INT64";
    case "string":
      return "STRING";
    default:
      return v instanceof Date ? "TIMESTAMP" : "JSON";
  }
}

/**
 * Columns of `rows` in order of first appearance, with inferred types. `fixed` types (the user's
 * overrides, the `rank` column) win over inference.
 */
export function inferColumns(rows: readonly Row[], fixed: Readonly<Record<string, ColumnType>> = {}): Columns {
  const types = new Map<string, ColumnType | null>();
  for (const row of rows) {
    for (const k in row) {
      const t = fixed[k] ?? typeOfValue(row[k]);
      const had = types.get(k);
      if (had === undefined || had === null) types.set(k, t);
      else if (t !== null && t !== had) types.set(k, mergeType(k, had, t));
    }
  }
  return [...types];
}

/** Thrown (as a message) when two ranks or two flushes disagree on a column. */
export class SchemaConflict extends Error {}

function mergeType(col: string, a: ColumnType, b: ColumnType): ColumnType {
  if (a === b) return a;
  throw new SchemaConflict(`column "${col}" holds both ${a} and ${b} values`);
}

/**
 * Merges per-rank column lists (in rank order) into `base`, the columns already on disk. With
 * `frozen`, a column not in `base` is an error (CSV and Parquet cannot add columns later).
 */
export function mergeColumns(base: Columns, parts: readonly Columns[], frozen: boolean): Columns {
  const out = new Map<string, ColumnType | null>(base);
  for (const part of parts) {
    for (const [name, t] of part) {
      if (!out.has(name)) {
        if (frozen) throw new SchemaConflict(`column "${name}" is new: this output's columns were fixed by its first flush (${[...out.keys()].join(", ")})`);
        out.set(name, t);
        continue;
      }
      const had = out.get(name)!;
      if (had === null) out.set(name, t);
      else if (t !== null) out.set(name, mergeType(name, had, t));
    }
  }
  return [...out];
}
