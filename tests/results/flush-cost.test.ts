// A flush costs in proportion to its own rows, not to the table: 1000 flushes of 1000 rows on real
// ranks, per format, and the time per flush stays flat. (Publishing by copying the whole table made
// the last flushes many times slower than the first: O(n²) over the run.)
import { mkdtempSync, rmSync, statfsSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { linesOf, runJob } from "../helpers/run.js";
import { tempDir } from "./helpers.js";

const FLUSHES = 1000;
const ROWS = 1000;
// Asserted on rank 0's CPU time per flush (user + system), which is the work a flush does: wall
// time on this shared machine swings ×10 with other jobs (one run here: first 100 median 27 ms,
// last 100 2.5 ms, only because other test files ran at the start). Measured here over 1000
// flushes: last/first CPU median 0.54 CSV, 0.79 JSONL, 0.78 Parquet (warm-up makes the first
// flushes dearer). Copying the whole table on every flush (before) gave, after only 300 flushes,
// CPU ×2.5 CSV, ×2.8 JSONL, ×3.6 Parquet, growing linearly (×6 or more at 1000 flushes, which did
// not finish in 15 min). The bound leaves room for noise, not for O(n).
const MAX_RATIO = 3;

interface Stats {
  firstMean: number;
  firstMedian: number;
  lastMean: number;
  lastMedian: number;
}

interface Cost {
  flushes: number;
  rowsPerFlush: number;
  wall: Stats;
  cpu: Stats;
}

const show = (s: Stats) =>
  `first 100 mean ${s.firstMean.toFixed(2)} ms (median ${s.firstMedian.toFixed(2)}), last 100 mean ${s.lastMean.toFixed(2)} ms (median ${s.lastMedian.toFixed(2)}), last/first ${(s.lastMean / s.firstMean).toFixed(2)} (medians ${(s.lastMedian / s.firstMedian).toFixed(2)})`;

/**
 * Where to write: /dev/shm when it is a tmpfs, where fsync costs nothing, so the figure is the
 * writing itself (what copying made grow) and not the shared disk's fsync latency, which other
 * jobs on this machine make vary by ×10 (the fsyncs are a fixed number per flush either way).
 */
function costDir(): { dir: string; where: string } {
  try {
    if (statfsSync("/dev/shm").type === TMPFS_MAGIC) return { dir: mkdtempSync("/dev/shm/zmpi-cost-"), where: "tmpfs /dev/shm" };
  } catch {
    // no /dev/shm
  }
  return { dir: tempDir("cost"), where: `${tmpdir()} (no tmpfs /dev/shm: fsync latency included)` };
}
const TMPFS_MAGIC = 0x01021994;

describe("flush cost", () => {
  it(`${FLUSHES} flushes of ${ROWS} rows: time per flush flat (csv, jsonl, parquet)`, { timeout: 900_000 }, async () => {
    const { dir: out, where } = costDir();
    const r = await runJob("results-cost.ts", 2, { env: { OUT: out, FLUSHES: String(FLUSHES), ROWS: String(ROWS) }, timeoutSec: 900 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const costs = new Map<string, Cost>();
    for (const l of linesOf(r.stdout, 0)) if (l.startsWith("cost ")) costs.set(l.split(" ")[1]!, JSON.parse(l.slice(l.indexOf("{"))) as Cost);
    expect([...costs.keys()]).toEqual(["csv", "jsonl", "parquet"]);
    for (const [format, c] of costs) {
      const ratio = c.cpu.lastMedian / c.cpu.firstMedian;
      console.log(`flush cost ${format} (${where}), ${c.flushes} flushes of ${c.rowsPerFlush} rows: rank 0 CPU ${show(c.cpu)}; wall ${show(c.wall)}`);
      expect(ratio, `${format}: the last flushes cost ${ratio.toFixed(1)}× the CPU time of the first`).toBeLessThan(MAX_RATIO);
    }
    rmSync(out, { recursive: true, force: true });
  });
});
