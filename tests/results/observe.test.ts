// Metrics gathered to rank 0, rank-aware logging, uncaught errors named by rank, streaming memory.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { linesOf, runJob } from "../helpers/run.js";
import { tempDir } from "./helpers.js";

describe("metrics", () => {
  it("every rank's numbers reach rank 0: metrics.json, the manifest, and one printed table", async () => {
    const dir = tempDir("metrics");
    // Two pretend nodes (ranks 0-1, rank 2): traffic splits into same-node (ipc) and other-node (tcp).
    const r = await runJob("results-observe.ts", 3, { nodes: 2, env: { MODE: "metrics", OUT: dir, ZMPI_METRICS: "1" } });
    expect(r.code, r.stderr).toBe(0);
    expect(linesOf(r.stdout, 0)).toContain("metrics gathered for 3 ranks");
    expect(linesOf(r.stdout, 1)).toContain("metrics on rank 1: undefined");
    const report = JSON.parse(readFileSync(join(dir, "metrics.json"), "utf8"));
    expect(report.size).toBe(3);
    expect(report.ranks.map((m: { rank: number }) => m.rank)).toEqual([0, 1, 2]);
    for (const m of report.ranks) {
      expect(m.pid).toBeGreaterThan(0);
      expect(m.host).toBeTruthy();
      expect(m.collectiveCalls).toBeGreaterThan(0);
      expect(m.messagesSent).toBeGreaterThan(0);
      expect(m.peakRssBytes).toBeGreaterThan(10 << 20);
      expect(m.cpuUserMs).toBeGreaterThan(0);
    }
    type Kinds = Record<"self" | "node" | "remote", { bytesSent: number; messagesSent: number }>;
    for (const m of report.ranks as Array<{ bytesSent: number; messagesSent: number; byPeerKind: Kinds }>) {
      const k = m.byPeerKind;
      expect(k.self.bytesSent + k.node.bytesSent + k.remote.bytesSent).toBe(m.bytesSent);
      expect(k.self.messagesSent + k.node.messagesSent + k.remote.messagesSent).toBe(m.messagesSent);
    }
    const kinds = (report.ranks as Array<{ byPeerKind: Kinds }>).map((m) => m.byPeerKind);
    expect(kinds.reduce((a, k) => a + k.node.bytesSent, 0)).toBeGreaterThan(0);
    expect(kinds.reduce((a, k) => a + k.remote.bytesSent, 0)).toBeGreaterThan(0);
    expect(report.ranks[0].bytesSent).toBeGreaterThan(100_000);
    expect(report.ranks[1].bytesReceived).toBeGreaterThan(100_000);
    expect(report.host.cpus).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")).metrics).toBe("metrics.json");
    // The table is printed by rank 0 only (twice here: world.metrics() and finalize both print under ZMPI_METRICS=1).
    const tables = linesOf(r.stdout, 0).filter((l) => l.includes("peak RSS MiB"));
    expect(tables.length).toBeGreaterThanOrEqual(1);
    expect(linesOf(r.stdout, 1).some((l) => l.includes("peak RSS MiB"))).toBe(false);
  });
});

describe("logging", () => {
  it("info/warn/error print once with a [rank] prefix; all prints on every rank; files per rank", async () => {
    const dir = tempDir("logs");
    const r = await runJob("results-observe.ts", 3, { env: { MODE: "log", ZMPI_LOG_DIR: dir }, prefix: false });
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout.split("\n");
    const err = r.stderr.split("\n");
    expect(out.filter((l) => l === "[0] an info line")).toHaveLength(1);
    expect(out.filter((l) => l.includes("an info line"))).toHaveLength(1);
    expect(err.filter((l) => l === "[0] a warning line")).toHaveLength(1);
    expect(err.filter((l) => l === "[0] an error line")).toHaveLength(1);
    for (let k = 0; k < 3; k++) expect(out).toContain(`[${k}] an all line from ${k}`);
    expect(r.stdout).not.toMatch(/debug line/);
    const f2 = readFileSync(join(dir, "rank-2.log"), "utf8");
    expect(f2).toMatch(/INFO \[2\] an info line/);
    expect(f2).toMatch(/INFO \[2\] an all line from 2/);
    expect(f2).not.toMatch(/debug/);
  });

  it("ZMPI_LOG sets the level", async () => {
    const r = await runJob("results-observe.ts", 2, { env: { MODE: "log", ZMPI_LOG: "error" } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/info line|all line/);
    expect(r.stderr).not.toMatch(/warning line/);
    expect(linesOf(r.stderr, 0)).toContain("an error line");
  });

  it("an uncaught error is printed with its rank and stack, and the job goes down", async () => {
    const r = await runJob("results-observe.ts", 3, { env: { MODE: "uncaught" } });
    expect(r.code).not.toBe(0);
    expect(r.stdout).not.toMatch(/still alive/);
    const lines = linesOf(r.stderr, 1);
    const at = lines.findIndex((l) => l.startsWith("[zmpi rank 1] uncaught exception: Error: uncaught on purpose"));
    expect(at, r.stderr).toBeGreaterThanOrEqual(0);
    expect(lines[at + 1]).toMatch(/^\s+at .*results-observe\.ts/);
  });
});

describe("streaming", () => {
  it("800 000 rows from 8 ranks reach one file, in rank order; rank 0's peak RSS is reported", async () => {
    const dir = tempDir("stream");
    const r = await runJob("results-table.ts", 8, { env: { MODE: "big", OUT: dir, FORMAT: "jsonl", ROWS: "100000", BATCH: "50000", CHUNK: "10000" } });
    expect(r.code, r.stderr).toBe(0);
    const line = linesOf(r.stdout, 0).find((l) => l.startsWith("big "));
    expect(line).toMatch(/big 800000 rows/);
    console.log(line);
    const text = readFileSync(join(dir, "big.jsonl"), "utf8");
    const lines = text.trimEnd().split("\n");
    expect(lines).toHaveLength(800_000);
    // Second flush of rank 0 comes after first flush of rank 7: flush, then rank, then append order.
    expect(JSON.parse(lines[0]!)).toEqual({ rank: 0, i: 0, v: 0 });
    expect(JSON.parse(lines[50_000]!)).toEqual({ rank: 1, i: 0, v: 0 });
    expect(JSON.parse(lines[400_000]!)).toEqual({ rank: 0, i: 50_000, v: 25_000 });
  });
});
