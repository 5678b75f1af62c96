// Round trips of every format on real ranks: what rank 0 wrote is every rank's rows, in order.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runJob } from "../helpers/run.js";
import { csvField, encodeCsv } from "../../src/results/writer-csv.js";
import { expectedRows, leftovers, parseCsv, readParquet, tempDir } from "./helpers.js";

function csvValue(v: unknown): string {
  return v === null || v === undefined ? "" : String(v);
}

async function readBack(dir: string, format: string): Promise<Array<Record<string, unknown>>> {
  const path = join(dir, `table.${format}`);
  if (format === "jsonl")
    return readFileSync(path, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  if (format === "parquet") return readParquet(path);
  const [head, ...body] = parseCsv(readFileSync(path, "utf8"));
  return body.map((cells) => Object.fromEntries(head!.map((h, k) => [h, cells[k]])));
}

describe("results formats on real ranks", () => {
  for (const [format, np] of [
    ["jsonl", 3],
    ["csv", 3],
    ["parquet", 3],
    ["parquet", 1],
    ["jsonl", 8],
  ] as const) {
    it(`${format} on ${np} rank(s), two flushes: every row, in order, with its rank`, async () => {
      const dir = tempDir(`fmt-${format}`);
      const r = await runJob("results-table.ts", np, { env: { MODE: "basic", OUT: dir, FORMAT: format, ROWS: "11", FLUSHES: "2" } });
      expect(r.code, r.stderr).toBe(0);
      const want = expectedRows(np, 11, 2);
      const got = await readBack(dir, format);
      if (format === "csv") {
        expect(got).toEqual(want.map((w) => Object.fromEntries(Object.entries(w).map(([k, v]) => [k, csvValue(v)]))));
      } else {
        expect(got).toEqual(want);
      }
      expect(leftovers(dir)).toEqual([]);
      const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
      expect(manifest.status).toBe("complete");
      expect(manifest.outputs[`table.${format}`].rows).toBe(11 * np);
      expect(manifest.outputs[`table.${format}`].rowsPerRank).toEqual(new Array(np).fill(11));
    });
  }

  it("leaves the rank column out when asked", async () => {
    const dir = tempDir("norank");
    const r = await runJob("results-table.ts", 2, { env: { MODE: "basic", OUT: dir, FORMAT: "jsonl", ROWS: "3", NO_RANK: "1" } });
    expect(r.code, r.stderr).toBe(0);
    expect(await readBack(dir, "jsonl")).toEqual(expectedRows(2, 3, 1, false));
  });

  it("quotes CSV fields that need it, and only those", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField("a,b")).toBe('"a,b"');
    expect(csvField("two\nlines")).toBe('"two\nlines"');
    expect(csvField(" edge")).toBe('" edge"');
    expect(csvField(null)).toBe("");
    expect(csvField({ a: [1, 2] })).toBe('"{""a"":[1,2]}"');
    const text = encodeCsv(
      [{ a: 'x,"y"', b: 2 }],
      [
        ["rank", "INT32"],
        ["a", "STRING"],
        ["b", "DOUBLE"],
      ],
      4,
    );
    expect(parseCsv(text)).toEqual([["4", 'x,"y"', "2"]]);
  });
});
