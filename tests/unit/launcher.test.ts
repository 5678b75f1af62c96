// Launcher helpers and `zmpi info`.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { infoRows } from "../../launcher/info.js";
import { blockLayout, formatTasksPerNode, nodeArgsFor, withHugePages } from "../../launcher/launch.js";
import { detectEnvironment } from "../../src/env/detect.js";
import { parseTasksPerNode } from "../../src/env/tasks-per-node.js";

const bin = fileURLToPath(new URL("../../launcher/bin.mjs", import.meta.url));

describe("launcher", () => {
  it("lays ranks out in blocks like Slurm and writes Slurm's tasks-per-node form", () => {
    expect(blockLayout(4, 2)).toEqual([2, 2]);
    expect(blockLayout(7, 3)).toEqual([3, 2, 2]);
    expect(formatTasksPerNode([3, 2, 2])).toBe("3,2(x2)");
    for (const [np, k] of [
      [7, 3],
      [8, 2],
      [5, 5],
      [1, 1],
    ])
      expect(parseTasksPerNode(formatTasksPerNode(blockLayout(np!, k!)))).toEqual(blockLayout(np!, k!));
  });

  it("runs TypeScript through tsx and JavaScript as is", () => {
    expect(nodeArgsFor("a.ts")[0]).toBe("--import");
    expect(nodeArgsFor("a.mjs")).toEqual(["a.mjs"]);
  });

  it("refuses bad arguments with a clear message", () => {
    const r = spawnSync(process.execPath, [bin, "launch", "-n", "0", "x.ts"], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/expected a positive integer, got "0"/);
    const s = spawnSync(process.execPath, [bin, "launch", "-n", "2", "--nodes", "3", "x.ts"], { encoding: "utf8" });
    expect(s.stderr).toMatch(/--nodes must be an integer from 1 to 2/);
  });
});

describe("zmpi info", () => {
  const slurm = {
    SLURM_JOB_ID: "77",
    SLURM_STEP_ID: "1",
    SLURM_PROCID: "3",
    SLURM_STEP_NUM_TASKS: "4",
    SLURM_LOCALID: "0",
    SLURM_NODEID: "1",
    SLURMD_NODENAME: "n2",
    SLURM_STEP_NODELIST: "n[1-2]",
    SLURM_STEP_TASKS_PER_NODE: "3,1",
    SLURM_CPUS_PER_TASK: "2",
  };

  it("shows rank, size, node, local rank, coordinator, CPUs and method", () => {
    const rows = Object.fromEntries(infoRows(detectEnvironment(slurm, { hostname: "host" })));
    expect(rows.method).toBe("slurm");
    expect(rows.rank).toBe("3 of 4");
    expect(rows.node).toBe("n2 (index 1 of 2)");
    expect(rows["local rank"]).toBe("0 of 1");
    expect(rows.coordinator).toBe(`n1:${61440 + (77 % 256) * 16 + 1} (port: derived)`);
    expect(rows["CPUs per task"]).toBe("2");
  });

  it("prints a table and JSON from the command line", () => {
    const env = { ...process.env, ...slurm };
    const table = spawnSync(process.execPath, [bin, "info"], { encoding: "utf8", env });
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/│ rank\s+│ 3 of 4/);
    const json = spawnSync(process.execPath, [bin, "info", "--json"], { encoding: "utf8", env });
    expect(JSON.parse(json.stdout)).toMatchObject({ method: "slurm", rank: 3, size: 4, nodeName: "n2", cpusPerTask: 2, coordinator: { host: "n1" } });
  });
});

describe("huge pages for the ranks", () => {
  it("adds the glibc tunable, keeping the user's other tunables and any choice they made", () => {
    expect(withHugePages({ A: "1" })).toEqual({ A: "1", GLIBC_TUNABLES: "glibc.malloc.hugetlb=1" });
    expect(withHugePages({ GLIBC_TUNABLES: "glibc.malloc.arena_max=2" }).GLIBC_TUNABLES).toBe("glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1");
    expect(withHugePages({ GLIBC_TUNABLES: "glibc.malloc.hugetlb=0" }).GLIBC_TUNABLES).toBe("glibc.malloc.hugetlb=0");
  });
});
