// kill -9 of rank 0 in the middle of a flush, from a separate process (so it can land anywhere,
// even inside the synchronous publish), at moments spread over the flush: the published table is
// always one whole version, every row of it readable, and manifest.json describes it exactly (its
// current version, or the `pending` one it recorded just before the rename).
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { linesOf, runJob } from "../helpers/run.js";
import { asRead, digestTable, expectedRows, readTable, tableFiles, tempDir } from "../results/helpers.js";

const NP = 2;
const ROWS = 10_000; // per rank per flush: a flush takes long enough (~100 ms) to be hit in the middle
const GOOD = 2;
const KILL_AT = [0.25, 0.5, 0.75, 1.0]; // × the time the last good flush took

describe("kill -9 of rank 0 mid-flush", () => {
  for (const format of ["csv", "jsonl", "parquet"] as const) {
    it(`${format}: the table is one whole version and the manifest matches it`, async () => {
      const outcomes: string[] = [];
      for (const at of KILL_AT) {
        const out = tempDir(`crash-${format}`);
        const r = await runJob("results-disk.ts", NP, {
          env: { MODE: "kill", OUT: out, CTL: out, FORMAT: format, ROWS: String(ROWS), GOOD: String(GOOD), KILL_AT: String(at) },
          timeoutSec: 120,
        });
        expect(r.code, r.stdout + r.stderr).not.toBe(0);
        expect(r.code, "the job ended by the kill, not the deadline").not.toBe(124);
        const when = linesOf(r.stdout, 0).find((l) => l.startsWith("kill -9"))!;
        expect(when, r.stdout).toBeDefined();

        const path = join(out, `table.${format}`);
        const entry = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")).outputs[`table.${format}`];
        const d = digestTable(path);
        const rows = await readTable(path, format);
        const flushes = rows.length / (NP * ROWS);
        expect([GOOD, GOOD + 1], `${rows.length} rows: whole flushes only (${when})`).toContain(flushes);
        expect(rows).toEqual(asRead(expectedRows(NP, ROWS * flushes, flushes), format));
        // The manifest describes exactly this version: its current one, or the pending one.
        const matches = (v: Record<string, unknown> | undefined): boolean =>
          v !== undefined && v.rows === rows.length && v.bytes === d.bytes && (format === "parquet" ? v.parts === tableFiles(path).length : v.sha256 === d.sha256);
        const current = matches(entry);
        const pending = matches(entry.pending);
        expect(current || pending, `${when}: file ${rows.length} rows ${d.bytes} bytes; manifest ${JSON.stringify(entry)}`).toBe(true);
        outcomes.push(`${flushes === GOOD ? "old" : "new"}${entry.pending ? (current ? "+pending recorded" : " (pending)") : ""}`);
        rmSync(out, { recursive: true, force: true });
      }
      const tally = [...new Set(outcomes)].map((o) => `${outcomes.filter((x) => x === o).length} ${o}`).join(", ");
      console.log(
        `kill -9 of rank 0 during a ${format} flush of ${NP * ROWS} rows, ${KILL_AT.length} moments: ${KILL_AT.length}/${KILL_AT.length} tables whole and matching manifest.json (${tally})`,
      );
    });
  }
});
