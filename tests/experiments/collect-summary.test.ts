// collect and summarize over runs laid out by hand (no jobs run): validation against what each
// job promised, the merged table in both formats, correctness (tolerance, missing, extra, a user
// comparison function), performance from metrics.json, and the SVG plots.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { afterAll, describe, expect, it } from "vitest";
import { collect, readTable, RunManifest, summarize, writeTable, type RunJob, type Table } from "../../src/experiments/index.js";
import { compareValues, percentile } from "../../src/experiments/compare.js";
import { parseCsv } from "../../src/experiments/tables.js";

const root = mkdtempSync(join(tmpdir(), "zmpi-collect-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const rowsFor = (n: number, f: (i: number) => number[] = (i) => [i, i / 3]) =>
  Array.from({ length: n }, (_, i) => ({ prompt_id: i, tokens: 2, output: f(i), label: `p${i}`, latency_ms: 10 + i }));

interface FakeJob {
  name: string;
  baseline?: boolean;
  state?: RunJob["state"];
  table?: Table | null;
  file?: string;
  promise?: { rows?: number; columns?: string[]; collect?: boolean };
  metrics?: { maxWallMs: number; maxPeakRssBytes: number };
  resultsStatus?: string;
}

/** A run directory as `zmpi submit` + finished jobs would leave it. */
function fakeRun(jobs: FakeJob[], summary?: unknown): string {
  const m = RunManifest.create(join(root, `r${Math.random().toString(36).slice(2)}`), "local", { name: "fake", source: null, summary });
  for (const j of jobs) {
    const dir = join(m.dir, j.name);
    mkdirSync(dir, { recursive: true });
    const file = j.file ?? "results.parquet";
    writeFileSync(join(dir, "exp_config.json"), JSON.stringify({ job: { results: { table: file, ...j.promise } } }));
    if (j.table) {
      const base = join(dir, file.replace(/\.\w+$/, ""));
      if (file.endsWith(".jsonl")) writeFileSync(join(dir, file), `${j.table.rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
      else writeTable(base, j.table);
    }
    if (j.metrics) writeFileSync(join(dir, "metrics.json"), JSON.stringify({ totals: j.metrics }));
    if (j.resultsStatus) writeFileSync(join(dir, "manifest.json"), JSON.stringify({ status: j.resultsStatus, error: "rank 2 died" }));
    m.data.jobs.push({
      strategy: j.name,
      ...(j.baseline ? { baseline: true } : {}),
      jobId: `local-${j.name}`,
      config: null,
      script: `${j.name}/job.local.sh`,
      dir: j.name,
      table: file,
      dependsOn: [],
      submittedAt: new Date().toISOString(),
      state: j.state ?? "COMPLETED",
      exitCode: j.state && j.state !== "COMPLETED" ? 1 : 0,
      elapsedSec: 3,
      startedAt: null,
      endedAt: null,
      nodeList: null,
      via: "marker",
      sacct: null,
      collect: null,
    });
  }
  m.save();
  return m.dir;
}

const table = (rows: Array<Record<string, unknown>>): Table => ({ columns: Object.keys(rows[0] ?? {}), rows });

describe("collect", () => {
  it("merges every job's table (Parquet, CSV, JSONL) with a strategy column, and marks missing, partial and failed jobs", async () => {
    const dir = fakeRun([
      { name: "baseline", baseline: true, table: table(rowsFor(4)), promise: { rows: 4 } },
      { name: "a", table: table(rowsFor(4)), promise: { rows: 4, columns: ["prompt_id", "output"] }, file: "out.csv" },
      { name: "b", table: table(rowsFor(4)), file: "rows.jsonl" },
      { name: "short", table: table(rowsFor(3)), promise: { rows: 4 } },
      { name: "nocol", table: table(rowsFor(4).map(({ label: _l, ...r }) => r)), promise: { columns: ["label"] } },
      { name: "gone", table: null },
      { name: "crashed", state: "FAILED", table: table(rowsFor(4)) },
      { name: "halfway", table: table(rowsFor(4)), resultsStatus: "failed" },
      { name: "files-only", table: null, promise: { collect: false } },
    ]);
    const r = await collect(dir);
    const by = Object.fromEntries(r.jobs.map((j) => [j.strategy, j]));
    expect(by.baseline!.status).toBe("ok");
    expect(by.a!.status).toBe("ok");
    expect(by.b!.status).toBe("ok");
    expect(by.short).toMatchObject({ status: "partial", rows: 3 });
    expect(by.short!.message).toMatch(/3 rows, but the config promised 4/);
    expect(by.nocol!.status).toBe("partial");
    expect(by.nocol!.message).toMatch(/promised column\(s\) label missing/);
    expect(by.nocol!.message).toMatch(/columns differ from the first job's: missing label/);
    expect(by.gone).toMatchObject({ status: "missing", rows: 0 });
    expect(by.crashed!.status).toBe("failed");
    expect(by.crashed!.message).toMatch(/ended FAILED \(exit 1\)/);
    expect(by.halfway!.message).toMatch(/results manifest says the run failed: rank 2 died/);
    expect(by["files-only"]!.status).toBe("skipped");
    // One table, strategy first, every taken job's rows (partial ones included, failed ones not).
    expect(r.table.columns[0]).toBe("strategy");
    expect(r.table.rows.length).toBe(4 + 4 + 4 + 3 + 4 + 4);
    for (const file of [r.parquet, r.csv]) {
      const back = await readTable(file);
      expect(back.rows.length).toBe(r.table.rows.length);
      expect(back.rows.filter((x) => x.strategy === "a").map((x) => x.output)).toEqual(rowsFor(4).map((x) => x.output));
    }
    const m = RunManifest.open(dir).data;
    expect(m.collected).toMatchObject({ rows: 23, jobs: ["baseline", "a", "b", "short", "nocol", "halfway"] });
    expect(m.jobs.find((j) => j.strategy === "gone")!.collect!.status).toBe("missing");
  });

  it("refuses a table that already has the strategy column, and says how to rename", async () => {
    const dir = fakeRun([{ name: "x", table: table([{ strategy: "mine", v: 1 }]) }]);
    await expect(collect(dir)).rejects.toThrow(/already has a "strategy" column: pick another name/);
    expect((await collect(dir, { strategyColumn: "job" })).table.columns).toEqual(["job", "strategy", "v"]);
  });
});

describe("summarize", () => {
  const perturb = (eps: number) => (i: number) => [i + (i === 1 ? eps : 0), i / 3];
  const jobs = (): FakeJob[] => [
    { name: "baseline", baseline: true, table: table(rowsFor(4)), metrics: { maxWallMs: 1000, maxPeakRssBytes: 50 * 2 ** 20 } },
    { name: "exact", table: table(rowsFor(4)), metrics: { maxWallMs: 2000, maxPeakRssBytes: 100 * 2 ** 20 } },
    { name: "close", table: table(rowsFor(4, perturb(1e-12))), metrics: { maxWallMs: 4000, maxPeakRssBytes: 2 ** 27 } },
    { name: "off", table: table(rowsFor(4, perturb(0.5))) },
    { name: "lossy", table: table([...rowsFor(3), { ...rowsFor(9)[8]! }]) },
  ];

  it("correctness per job (tolerance, max abs error, missing and extra rows), performance, summary.csv/.md and plots", async () => {
    const dir = fakeRun(jobs(), { key: "prompt_id", compare: ["output", "label"], tolerance: { abs: 1e-9, rel: 0 }, latency: "latency_ms", tokens: "tokens" });
    const s = await summarize(dir);
    const by = Object.fromEntries(s.rows.map((r) => [r.strategy, r]));
    expect(s.rows.map((r) => r.strategy)).toEqual(["exact", "close", "off", "lossy"]);
    expect(by.exact).toMatchObject({
      match: true,
      matched: 4,
      matchRate: 1,
      maxAbsError: 0,
      rowsPerSec: 2,
      tokensPerSec: 4,
      wallSec: 2,
      peakRssMiB: 100,
      latencyP50Ms: 11,
      latencyP99Ms: 13,
    });
    expect(by.close!.match).toBe(true);
    expect(by.close!.maxAbsError).toBeCloseTo(1e-12, 15);
    expect(by.off).toMatchObject({ match: false, matched: 3, matchRate: 0.75, maxAbsError: 0.5 });
    expect(by.lossy).toMatchObject({ match: false, matched: 3, missing: 1, extra: 1 });
    expect(s).toMatchObject({ matched: 2, compared: 4 });
    const md = readFileSync(s.md, "utf8");
    expect(md).toMatch(/\*\*2\/4 strategies match the baseline\*\*/);
    expect(md).toMatch(/- off: 3\/4 rows match/);
    const csv = parseCsv(readFileSync(s.csv, "utf8"));
    expect(csv[0]!.slice(0, 3)).toEqual(["strategy", "jobId", "state"]);
    expect(csv.length).toBe(5);
    expect(s.plots.map((p) => p.split("/").at(-1))).toEqual(["latency_vs_correctness.svg", "throughput.svg"]);
    for (const p of s.plots) {
      const svg = readFileSync(p, "utf8");
      expect(XMLValidator.validate(svg), p).toBe(true);
      expect(new XMLParser().parse(svg).svg, p).toBeDefined();
      // The latency plot has every strategy; the throughput plot those with a wall time (metrics.json).
      const names = p.endsWith("throughput.svg") ? ["exact", "close"] : ["exact", "close", "off", "lossy"];
      for (const name of names) expect(svg, `${p} names ${name}`).toContain(`>${name}<`);
    }
    expect(RunManifest.open(dir).data.summary).toMatchObject({ matched: 2, compared: 4, csv: "summary.csv", md: "summary.md" });
  });

  it("flags override the run's summary section; a baseline table from a file; a user comparison function for objects", async () => {
    const objs = (k: number) => table(Array.from({ length: 3 }, (_, i) => ({ id: i, answer: { text: `a${i}`, score: i + k } })));
    const dir = fakeRun([
      { name: "s1", table: objs(0.001) },
      { name: "s2", table: objs(5) },
    ]);
    const base = join(root, "base.jsonl");
    writeFileSync(
      base,
      objs(0)
        .rows.map((r) => JSON.stringify(r))
        .join("\n"),
    );
    const mod = join(root, "cmp.mjs");
    writeFileSync(mod, "export function near(a, b) { return { match: a.text === b.text && Math.abs(a.score - b.score) < 0.01, error: Math.abs(a.score - b.score) }; }\n");
    const s = await summarize(dir, { baseline: base, key: "id", compare: ["answer"], compareModule: `${mod}#near`, plots: false });
    expect(s.rows.map((r) => [r.strategy, r.match])).toEqual([
      ["s1", true],
      ["s2", false],
    ]);
    expect(s.rows[1]!.maxAbsError).toBe(5);
    await expect(summarize(dir, { baseline: base, key: "id", compare: ["answer"], compareModule: `${mod}#nope` })).rejects.toThrow(
      /has no exported function "nope" \(exports: near\)/,
    );
    await expect(summarize(dir, { baseline: base, key: "id", compare: ["answr"] })).rejects.toThrow(/the baseline has no column "answr"/);
    await expect(summarize(dir)).rejects.toThrow(/summary needs --key <column> and --compare/);
  });
});

describe("pieces", () => {
  it("compareValues: numbers and numeric arrays within tolerance, NaN with NaN, strings exact", async () => {
    const tol = { abs: 1e-9, rel: 1e-6 };
    const ctx = { column: "c", key: "k" };
    expect(await compareValues(1, 1 + 5e-10, tol, ctx)).toMatchObject({ match: true });
    expect(await compareValues(1000, 1000.0005, tol, ctx)).toMatchObject({ match: true });
    expect(await compareValues(1, 1.01, tol, ctx)).toMatchObject({ match: false });
    expect(await compareValues([1, 2], [1, 2, 3], tol, ctx)).toEqual({ match: false, error: Infinity });
    expect(await compareValues(Float64Array.of(1, 2), [1, 2.5], tol, ctx)).toEqual({ match: false, error: 0.5 });
    expect(await compareValues(NaN, NaN, tol, ctx)).toEqual({ match: true, error: 0 });
    expect(await compareValues("a", "a", tol, ctx)).toEqual({ match: true, error: null });
    expect(await compareValues("1", 1, tol, ctx)).toMatchObject({ match: false });
  });

  it("percentile by nearest rank; CSV fields with quotes, commas and line breaks round-trip", async () => {
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4], 99)).toBe(4);
    expect(percentile([], 50)).toBeNull();
    const rows = [{ a: 'say "hi", then\nleave', b: 1.5, c: [1, 2], d: null, e: true }];
    writeTable(join(root, "rt"), table(rows));
    expect((await readTable(join(root, "rt.csv"))).rows).toEqual(rows);
    expect((await readTable(join(root, "rt.parquet"))).rows).toEqual(rows);
  });
});
