// The bench suite's pure parts: size and benchmark parsing, the plan, statistics, OSU-style
// tables, CSV/JSON shape and the anchor comparison.
import { describe, expect, it } from "vitest";
import { compareAnchors, formatAnchors, type AnchorResult } from "../../launcher/bench/anchors.js";
import { bwWindow, makePlan, parseBenchmarks, parseSize, parseSizeList, powersOfTwo, splitBatches } from "../../launcher/bench/plan.js";
import { CSV_COLUMNS, formatTable, parseCsv, skipLine, tableHeader, tableRow, toCsv, toJson } from "../../launcher/bench/report.js";
import { collectiveTiming, fromBatches, median } from "../../launcher/bench/stats.js";
import type { BenchRecord, BenchReport } from "../../launcher/bench/types.js";

const KiB = 1024;
const MiB = 1024 * KiB;

describe("sizes", () => {
  it("parses 8,1K,1M,64M with binary suffixes", () => {
    expect(parseSizeList("8,1K,1M,64M")).toEqual([8, KiB, MiB, 64 * MiB]);
    expect(parseSize("64KiB")).toBe(64 * KiB);
    expect(parseSize("16mib")).toBe(16 * MiB);
    expect(parseSize("8B")).toBe(8);
    expect(parseSize("1G")).toBe(1024 * MiB);
    expect(parseSize("0.5K")).toBe(512);
  });

  it("sorts and de-duplicates a list", () => {
    expect(parseSizeList("1M, 8,1K,8")).toEqual([8, KiB, MiB]);
  });

  it("rejects nonsense", () => {
    expect(() => parseSize("eight")).toThrow(/not a size/);
    expect(() => parseSize("1X")).toThrow(/not a size/);
    expect(() => parseSize("0.3")).toThrow(/whole number/);
    expect(() => parseSizeList(",")).toThrow(/no sizes/);
  });

  it("sweeps powers of two like OSU", () => {
    expect(powersOfTwo(8, 64)).toEqual([8, 16, 32, 64]);
    expect(powersOfTwo(5, 40)).toEqual([8, 16, 32]);
    expect(powersOfTwo(8, 64 * MiB)).toHaveLength(24);
    expect(() => powersOfTwo(64, 8)).toThrow(/larger/);
  });
});

describe("plan", () => {
  it("parses benchmark lists in run order, with groups", () => {
    expect(parseBenchmarks("barrier,bw,latency")).toEqual(["latency", "bw", "barrier"]);
    expect(parseBenchmarks("p2p")).toEqual(["latency", "bw"]);
    expect(parseBenchmarks("collectives")).toEqual(["allreduce", "bcast", "reduce", "allgather", "alltoall", "barrier"]);
    expect(() => parseBenchmarks("latency,nope")).toThrow(/unknown benchmark "nope"/);
  });

  it("defaults: 8 B to 16 MiB for p2p, to 64 MiB for collectives, iterations scaled down with size", () => {
    const plan = makePlan();
    const lat = plan.benchmarks.find((b) => b.name === "latency")!;
    expect(lat.steps[0]).toEqual({ size: 8, iterations: 1000, warmup: 3000 });
    expect(lat.steps.at(-1)).toEqual({ size: 16 * MiB, iterations: 20, warmup: 2 });
    expect(lat.steps.find((s) => s.size === MiB)).toEqual({ size: MiB, iterations: 100, warmup: 10 });
    // Below 1 MiB every size warms its own path up (V8), bw's windows excepted.
    expect(lat.steps.filter((s) => s.size < MiB).every((s) => s.warmup === 3000)).toBe(true);
    const bw = plan.benchmarks.find((b) => b.name === "bw")!;
    expect(bw.steps[0]!.warmup).toBe(10);
    const ar = plan.benchmarks.find((b) => b.name === "allreduce")!;
    expect(ar.steps.at(-1)!.size).toBe(64 * MiB);
    expect(plan.benchmarks.find((b) => b.name === "barrier")!.steps).toEqual([{ size: 0, iterations: 1000, warmup: 3000 }]);
    expect(plan.raw).toBe(true);
    expect(plan.rawTransport).toBe("ipc");
  });

  it("honours explicit sizes and iterations, and drops sizes below one float64 for collectives", () => {
    const plan = makePlan({ benchmarks: ["latency", "bw", "allreduce"], sizes: [1, 8, 64 * KiB], iterations: 7, warmup: 0 });
    expect(plan.benchmarks[0]!.steps.map((s) => s.size)).toEqual([1, 8, 64 * KiB]);
    expect(plan.benchmarks[1]!.steps.every((s) => s.iterations === 7 && s.warmup === 0 && s.window === 64)).toBe(true);
    expect(plan.benchmarks[2]!.steps.map((s) => s.size)).toEqual([8, 64 * KiB]);
  });

  it("caps the bw window at 64 MiB in flight, at least 4 messages", () => {
    expect(bwWindow(8)).toBe(64);
    expect(bwWindow(MiB)).toBe(64);
    expect(bwWindow(4 * MiB)).toBe(16);
    expect(bwWindow(16 * MiB)).toBe(4);
    expect(bwWindow(64 * MiB)).toBe(4);
  });

  it("splits iterations into batches", () => {
    expect(splitBatches(100, 20)).toEqual(new Array(20).fill(5));
    expect(splitBatches(7, 3)).toEqual([3, 2, 2]);
    expect(splitBatches(3, 20)).toEqual([1, 1, 1]);
  });
});

describe("statistics", () => {
  it("takes OSU's avg over all iterations and min/max/median over batches", () => {
    // Two ping-pong batches: 10 round trips in 1000 us (50 us half), 10 in 3000 us (150 us half).
    const t = fromBatches([1000, 3000], [10, 10], 2);
    expect(t).toEqual({ avg_us: 100, min_us: 50, max_us: 150, median_us: 100, iterations: 20 });
  });

  it("reduces collective times over ranks like osu_allreduce", () => {
    const t = collectiveTiming(
      [
        [10, 10, 10, 10],
        [20, 20, 40, 40],
      ],
      2,
    );
    expect(t.avg_us).toBe(20); // mean of rank means 10 and 30
    expect(t.min_us).toBe(10);
    expect(t.max_us).toBe(30);
    expect(t.median_us).toBe(30); // batches of slowest-rank times: 20, 40
    expect(t.iterations).toBe(4);
    expect(median([3, 1, 2])).toBe(2);
  });
});

const lat: BenchRecord = {
  benchmark: "latency",
  np: 2,
  size: 8,
  warmup: 100,
  avg_us: 101.234,
  min_us: 90.5,
  max_us: 300,
  median_us: 99,
  iterations: 1000,
  raw: { avg_us: 50.617, min_us: 45, max_us: 80, median_us: 50, iterations: 1000 },
  ratio: 2,
};
const bw: BenchRecord = {
  benchmark: "bw",
  np: 2,
  size: 16 * MiB,
  warmup: 2,
  window: 4,
  avg_us: 8388.608,
  min_us: 8000,
  max_us: 9000,
  median_us: 8388.608,
  iterations: 20,
  mbps: 2000,
  raw: { avg_us: 4194.304, min_us: 4000, max_us: 4500, median_us: 4194.304, iterations: 20, mbps: 4000 },
  ratio: 2,
};
const barrier: BenchRecord = { benchmark: "barrier", np: 2, size: 0, warmup: 100, avg_us: 120, min_us: 110, max_us: 130, median_us: 118, iterations: 1000 };

describe("tables", () => {
  it("prints OSU's header and fixed-width rows", () => {
    const head = tableHeader("latency", 2, false).split("\n");
    expect(head[0]).toBe("# zmpi OSU-style latency (half round trip), np=2");
    expect(head.at(-1)).toMatch(/^# Size\s+Avg Latency\(us\)\s+Min Latency\(us\)\s+Max Latency\(us\)\s+Iterations$/);
    const row = tableRow(lat, false);
    expect(row.split(/\s+/)).toEqual(["8", "101.23", "90.50", "300.00", "1000"]);
    expect(row.indexOf("101.23") + "101.23".length).toBe(head.at(-1)!.indexOf("Avg Latency(us)") + "Avg Latency(us)".length);
  });

  it("adds the raw zeromq columns and ratio when measured", () => {
    expect(tableHeader("latency", 2, true)).toMatch(/raw zmq Avg\(us\)\s+zmpi\/raw time$/);
    expect(tableRow(lat, true).split(/\s+/)).toEqual(["8", "101.23", "90.50", "300.00", "1000", "50.62", "2.00"]);
    expect(tableHeader("bw", 2, true)).toMatch(/# Size\s+Bandwidth \(MB\/s\)\s+Window\s+Iterations\s+raw zmq \(MB\/s\)\s+zmpi\/raw time$/);
    expect(tableRow(bw, true).split(/\s+/)).toEqual([String(16 * MiB), "2000.00", "4", "20", "4000.00", "2.00"]);
  });

  it("prints barrier without a size column, and skip lines", () => {
    const t = formatTable("barrier", 2, [barrier]).split("\n");
    expect(t.at(-2)).toMatch(/^#\s+Avg Latency/);
    expect(t.at(-1)!.trim().split(/\s+/)).toEqual(["120.00", "110.00", "130.00", "1000"]);
    expect(skipLine("allreduce", "not implemented in this build")).toBe("# allreduce: skipped (not implemented in this build)");
  });
});

describe("files", () => {
  it("writes one CSV row per (benchmark, size) with the documented columns", () => {
    const rows = parseCsv(toCsv([lat, bw, barrier]));
    expect(Object.keys(rows[0]!)).toEqual([...CSV_COLUMNS]);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject({ benchmark: "latency", np: "2", size: "8", avg_us: "101.234", iterations: "1000", mbps: "", raw_avg_us: "50.617", ratio: "2" });
    expect(rows[1]).toMatchObject({ benchmark: "bw", size: String(16 * MiB), mbps: "2000", raw_mbps: "4000", ratio: "2" });
    expect(rows[2]).toMatchObject({ benchmark: "barrier", size: "0", raw_avg_us: "", ratio: "" });
  });

  it("writes JSON with the machine info and the same records", () => {
    const report: BenchReport = {
      meta: {
        date: "2026-01-01T00:00:00.000Z",
        zmpiVersion: "0.1.0",
        node: "v20",
        v8: "11",
        os: "Debian",
        kernel: "6",
        arch: "x64",
        cpuModel: "AMD EPYC",
        cpus: 2,
        memGiB: 23.5,
        hostname: "vm",
        np: 2,
        command: "bench",
        algorithm: null,
        rawTransport: "ipc",
        batches: 20,
        wallSeconds: 1,
        exitCode: 0,
      },
      benchmarks: [{ name: "latency", status: "ok" }],
      results: [lat],
    };
    const back = JSON.parse(toJson(report)) as BenchReport;
    expect(back.meta).toMatchObject({ cpuModel: "AMD EPYC", node: "v20", zmpiVersion: "0.1.0", np: 2 });
    expect(back.results[0]).toEqual(lat);
  });
});

describe("anchors", () => {
  const anchors: AnchorResult[] = [
    { impl: "c", bench: "pingpong", np: 2, bytes: 8, config: "c-tcp-np2", run: 1, median_us: 5 },
    { impl: "c", bench: "pingpong", np: 2, bytes: 8, config: "c-tcp-np2", run: 2, median_us: 9 },
    { impl: "c", bench: "bw", np: 2, bytes: 16 * MiB, config: "c-tcp-np2", run: 1, median_us: 1, median_MBps: 4000 },
    { impl: "c", bench: "barrier", np: 2, bytes: 0, config: "c-tcp-np2", run: 1, median_us: 12 },
    { impl: "c", bench: "pingpong", np: 2, bytes: 8, config: "c-shm-np2", run: 1, median_us: 0.2 },
  ];

  it("maps zmpi's medians to the TCP anchors as time ratios", () => {
    const rows = compareAnchors([lat, bw, barrier], anchors, 2);
    const pp8 = rows.find((r) => r.label.startsWith("ping-pong 8 B"))!;
    expect(pp8.zmpi).toBe(99);
    expect(pp8.anchors[0]).toEqual({ stack: "Open MPI TCP lo", value: 7, ratio: 99 / 7 }); // median of runs 5 and 9
    expect(pp8.anchors[2]).toEqual({ stack: "torch gloo", value: null, ratio: null });
    const bw16 = rows.find((r) => r.label.startsWith("bw 16 MiB"))!;
    expect(bw16.zmpi).toBeCloseTo(2000);
    expect(bw16.anchors[0]!.ratio).toBeCloseTo(2); // 4000 MB/s vs 2000 MB/s: zmpi takes twice as long
    expect(rows.find((r) => r.label.startsWith("allreduce 1 f64"))!.zmpi).toBeNull();
    const text = formatAnchors(rows, 2, "results.json");
    expect(text).toMatch(/barrier, us\s+118\.00\s+12\.00\s+9\.8x/);
    expect(text).toMatch(/allreduce 1M f64 \(8 MiB\), us\s+not run/);
  });
});

describe("algorithm forcing", () => {
  it("names the forced algorithm in collective titles only", () => {
    expect(tableHeader("allreduce", 4, false, "ring").split("\n")[0]).toBe("# zmpi OSU-style allreduce (Float64Array, Op.SUM), np=4, ZMPI_ALGORITHM=ring");
    expect(tableHeader("latency", 4, false, "ring").split("\n")[0]).not.toContain("ZMPI_ALGORITHM");
  });
});
