// System figures of world.metrics(), checked against what the kernel and df say independently.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cpuTicks, diskSpace, hostContext, nodeCpuPercent } from "../../src/results/metrics.js";

const linux = process.platform === "linux";

describe("metrics from node:os and node:fs", () => {
  it("node CPU utilisation over an interval sees this process keep one CPU busy", () => {
    const t0 = cpuTicks();
    const end = Date.now() + 400;
    let x = 0;
    while (Date.now() < end) x += Math.sqrt(x + 1);
    const p = nodeCpuPercent(t0)!;
    expect(x).toBeGreaterThan(0);
    // One busy CPU out of N, give or take the kernel's 10 ms ticks; other processes only add.
    expect(p).toBeGreaterThanOrEqual(100 / cpus().length - 10);
    expect(p).toBeLessThanOrEqual(100);
    expect(nodeCpuPercent()).not.toBeNull();
  });

  it.runIf(linux)("memory figures match /proc/meminfo", () => {
    const meminfo = readFileSync("/proc/meminfo", "utf8");
    const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(meminfo)![1]) * 1024;
    const h = hostContext();
    expect(h.memoryTotalBytes).toBe(kib("MemTotal"));
    expect(Math.abs(h.memoryAvailableBytes! - kib("MemAvailable"))).toBeLessThan(256 << 20);
    expect(h.cpus).toBeGreaterThan(0);
    expect(h.cpuModel).toBeTruthy();
  });

  it.runIf(linux)("free space of a results directory (existing or not yet) matches df", () => {
    const dir = mkdtempSync(join(tmpdir(), "zmpi-disk-"));
    try {
      const [avail, size] = execFileSync("df", ["-B1", "--output=avail,size", dir], { encoding: "utf8" }).trim().split("\n")[1]!.trim().split(/\s+/).map(Number);
      for (const d of [dir, join(dir, "not", "yet")]) {
        const s = diskSpace(d);
        expect(s.dir).toBe(d);
        expect(s.totalBytes).toBe(size);
        // Other processes write meanwhile: within 64 MiB of df's figure.
        expect(Math.abs(s.freeBytes! - avail!)).toBeLessThan(64 << 20);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a directory that cannot be examined gives nulls, not an error", () => {
    expect(diskSpace("\0bad")).toMatchObject({ freeBytes: null, totalBytes: null });
  });
});
