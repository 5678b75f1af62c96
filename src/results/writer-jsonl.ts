/** JSON Lines: one JSON object per line. Ranks encode their own rows to text; rank 0 appends bytes. */
import type { Row } from "./schema.js";

/** JSON.stringify replacer: bigints become numbers when exact, else strings (JSON has no int64). */
export function jsonReplacer(_key: string, v: unknown): unknown {
  if (typeof v === "bigint") return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  return v;
}

/** Encodes rows as JSONL text; `rank` (if not null) is put first in each object. */
export function encodeJsonl(rows: readonly Row[], rank: number | null): string {
  let out = "";
  for (const row of rows) out += `${JSON.stringify(rank === null ? row : { rank, ...row }, jsonReplacer)}\n`;
  return out;
}
