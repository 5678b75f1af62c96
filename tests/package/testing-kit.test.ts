/**
 * zmpi/testing from the sources: runJob on real ranks (status and lines per rank), memoryWorld /
 * runInMemory with the World features in one process, and the Slurm probe that says why it skips.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Op, UsageError } from "../../src/index.js";
import { describeSlurm, memoryWorld, runInMemory, runJob, slurmAvailable, slurmUnavailableReason } from "../../src/testing/index.js";

const job = new URL("../fixtures/kit-job.mjs", import.meta.url);
const square = new URL("../fixtures/tasks/square.mjs", import.meta.url);
const dist = new URL("../../dist/bundle/testing.js", import.meta.url);
const tmp = mkdtempSync(join(tmpdir(), "zmpi-kit-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("runJob", () => {
  it("gives each rank's status and its stdout and stderr lines, prefix removed", async () => {
    const r = await runJob({ np: 3, nodes: 2, script: job, env: { EXIT_RANK: "2", EXIT_CODE: "3" } });
    expect(r.code, r.stderr).toBe(3);
    expect(r.ranks.map((k) => k.rank)).toEqual([0, 1, 2]);
    expect(r.ranks[2]!.code).toBe(3);
    for (const k of r.ranks) expect(typeof k.code).toBe("number");
    expect(r.ranks[0]!.lines).toEqual(["rank 0 of 3 on node 0", ""]);
    expect(r.ranks[2]!.lines).toEqual(["rank 2 of 3 on node 1", ""]);
    expect(r.ranks[1]!.errLines).toEqual(["stderr of 1"]);
    expect(r.stdout).toContain("[1] rank 1 of 3 on node 0");
  });

  it("a job where every rank succeeds has status 0 on each", async () => {
    const r = await runJob({ np: 2, script: job.href });
    expect(r.code, r.stderr).toBe(0);
    expect(r.ranks.map((k) => k.code)).toEqual([0, 0]);
  });

  it("refuses bad options before starting anything", async () => {
    await expect(runJob({ np: 0, script: job })).rejects.toThrow(UsageError);
    await expect(runJob({ np: 2, nodes: 3, script: job })).rejects.toThrow(/nodes must be an integer from 1 to np \(2\), got 3/);
    await expect(runJob({ np: 2, script: join(tmp, "nope.mjs") })).rejects.toThrow(/nope\.mjs does not exist/);
    await expect(runJob({ np: 2, script: job, timeoutSec: 0 })).rejects.toThrow(/timeoutSec/);
  });
});

describe("memoryWorld", () => {
  it("gives Worlds with log, results, farm, pool, metrics and finalize in one process", async () => {
    const lines: string[] = [];
    const table = join(tmp, "rows.jsonl");
    const out = await runInMemory(
      3,
      async (w) => {
        w.log.info("hello once");
        w.log.all(`hello from ${w.rank}`);
        const t = w.results(table);
        t.append({ rank: w.rank, node: w.node });
        await t.flush();
        const farm = await w.farm({ logDir: join(tmp, "logs"), progress: "none" });
        const farmed = farm.isMaster ? await farm.map<number>(square, "square", [2, 3, 4]) : null;
        await farm.close();
        const pooled = await w.pool({ size: 1 }).run<number>(square, "square", w.rank + 5);
        const sum = (await w.allreduce(new Float64Array([w.rank + 1]), Op.SUM))[0];
        const metrics = await w.metrics({ dir: tmp });
        return { farmed, pooled, sum, gathered: metrics?.length ?? null, method: w.env.method, size: w.size };
      },
      { logWrite: (line) => lines.push(line) },
    );
    expect(out.map((o) => o.sum)).toEqual([6, 6, 6]);
    expect(out.map((o) => o.pooled)).toEqual([25, 36, 49]);
    expect(out.map((o) => o.farmed)).toEqual([[4, 9, 16], null, null]);
    expect(out.map((o) => o.gathered)).toEqual([3, null, null]);
    expect(out.every((o) => o.method === "memory" && o.size === 3)).toBe(true);
    expect(lines.filter((l) => l.includes("hello once"))).toEqual(["[0] hello once"]);
    expect(lines.filter((l) => l.includes("hello from")).sort()).toEqual(["[0] hello from 0", "[1] hello from 1", "[2] hello from 2"]);
    const rows = readFileSync(table, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { rank: number });
    expect(rows.map((r) => r.rank).sort()).toEqual([0, 1, 2]);
    const report = JSON.parse(readFileSync(join(tmp, "metrics.json"), "utf8")) as { ranks: unknown[]; disks: { dir: string; freeBytes: number }[] };
    expect(report.ranks).toHaveLength(3);
    expect(report.disks[0]!.freeBytes).toBeGreaterThan(0);
    expect(existsSync(join(tmp, "logs"))).toBe(true);
  });

  it("a rank that throws fails the others at once, and runInMemory rejects with its error", async () => {
    const t0 = Date.now();
    await expect(
      runInMemory(4, async (w) => {
        if (w.rank === 2) throw new Error("rank two broke");
        await w.barrier();
      }),
    ).rejects.toThrow("rank two broke");
    // The default deadline is 30 s: without the spread the other ranks would wait that long.
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it("memoryWorld(n) worlds finalize only when every rank has", async () => {
    const worlds = memoryWorld(2);
    let first = false;
    const f0 = worlds[0]!.finalize().then(() => (first = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(first).toBe(false);
    await Promise.all([f0, worlds[1]!.finalize()]);
    expect(first).toBe(true);
    expect(() => memoryWorld(0)).toThrow(UsageError);
  });
});

describe("Slurm probe", () => {
  it("agrees with sinfo, and names the reason when srun is not on PATH", () => {
    const sinfo = spawnSync("sinfo", ["--noheader", "--format=%T"], { encoding: "utf8" });
    const up = sinfo.status === 0 && /idle|mixed|allocated/.test(sinfo.stdout);
    expect(slurmAvailable()).toBe(up);
    expect(slurmUnavailableReason() === null).toBe(up);
    const code = `import(${JSON.stringify(dist.href)}).then((k) => console.log(k.slurmUnavailableReason()))`;
    const r = spawnSync(process.execPath, ["-e", code], { encoding: "utf8", env: { ...process.env, PATH: "/nonexistent" } });
    expect(r.stdout.trim()).toBe("srun cannot be run here (not on PATH)");
  });
});

describeSlurm("describeSlurm", () => {
  it("runs its suite where Slurm is up", () => {
    expect(spawnSync("srun", ["-N2", "-n2", "true"], { encoding: "utf8", timeout: 60_000 }).status).toBe(0);
  });
});
