// zmpi advise: one test per rule (divisibility, memory, oversubscription, load, walkers), the
// layout it picks, where the resources come from, and the command line (text, JSON, status).
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { parseSize, resourcesFrom, runAdvise } from "../../launcher/advise.js";
import { program } from "../../launcher/cli.js";
import { advise, detectResources, evenAlternatives, type Resources } from "../../src/ensemble/index.js";
import { UsageError } from "../../src/errors.js";

const GiB = 2 ** 30;
const machine = (cpus: number, mem = 64 * GiB, load = 0): Resources => ({ source: "machine", nodes: 1, cpusPerNode: cpus, memPerNode: mem, load });
const request = (nodes: number, tpn: number, cpt: number, mem?: number): Resources => ({
  source: "request",
  nodes,
  cpusPerNode: tpn * cpt,
  tasksPerNode: tpn,
  cpusPerTask: cpt,
  memPerNode: mem,
});
const rule = (a: ReturnType<typeof advise>, r: string) => a.checks.filter((c) => c.rule === r);

describe("advise: divisibility", () => {
  it("particles over ranks: the split and the nearest rank counts that divide evenly", () => {
    const a = advise({ particles: 128, ranks: 6 }, machine(8));
    expect(rule(a, "divisibility")).toEqual([{ rule: "divisibility", level: "warn", message: "128 particles over 6 ranks leaves shards of 21/22; 4 or 8 ranks divide evenly" }]);
    expect(a.layout.particlesPerRank).toEqual([22, 21]);
    expect(rule(advise({ particles: 128, ranks: 8 }, machine(8)), "divisibility")[0]).toMatchObject({ level: "ok", message: "128 particles over 8 ranks: 16 each" });
    expect(rule(advise({ particles: 3, ranks: 4 }, machine(4)), "divisibility")[0]!.message).toBe(
      "3 particles over 4 ranks leaves shards of 0/1 (1 ranks get none); 3 ranks divide evenly",
    );
  });

  it("states over state groups: only group counts that also divide the ranks are suggested", () => {
    const a = advise({ states: 6, walkers: 32, ranks: 4 }, machine(4));
    expect(a.layout.groups).toBe(4);
    expect(rule(a, "divisibility")[0]).toEqual({ rule: "divisibility", level: "warn", message: "6 states over 4 state groups leaves blocks of 1/2; 2 state groups divide evenly" });
    expect(a.layout.statesPerGroup).toEqual([2, 1]);
  });

  it("walkers over a group's ranks, and blocks smaller than the pool", () => {
    const a = advise({ states: 2, walkers: 30, ranks: 8 }, machine(8));
    expect(a.layout).toMatchObject({ groups: 2, ranksPerGroup: 4, walkersPerRank: [8, 7] });
    expect(rule(a, "divisibility").map((c) => c.message)).toContain("30 walkers over 4 ranks per state group leaves blocks of 7/8; 3 or 5 ranks per state group divide evenly");
    const small = advise({ states: 1, walkers: 4 }, machine(8));
    expect(small.layout).toMatchObject({ ranks: 1, poolSize: 8 });
    expect(rule(small, "divisibility").map((c) => c.message)).toContain("a rank's block of 4 walkers keeps only 4 of its 8 pool threads busy; use a pool of 4 or more walkers");
    expect(evenAlternatives(7, 3, 10)).toEqual([7].filter((p) => p <= 10));
  });
});

describe("advise: walkers", () => {
  it("an odd ensemble is a warning; fewer than 2 × dim walkers is refused", () => {
    expect(rule(advise({ walkers: 31 }, machine(2)), "walkers")[0]!.level).toBe("warn");
    const a = advise({ walkers: 10, dim: 6 }, machine(2));
    expect(a.ok).toBe(false);
    expect(rule(a, "walkers")[0]!.message).toMatch(/10 walkers for 6 dimensions: the stretch move needs at least 2 × dim = 12/);
  });
});

describe("advise: memory pre-flight", () => {
  it("refuses above 80% of the available memory, saying how many ranks per node fit", () => {
    const a = advise({ states: 4, memPerTask: 3 * GiB }, request(1, 4, 1, 10 * GiB));
    expect(a.ok).toBe(false);
    const m = rule(a, "memory")[0]!;
    expect(m.level).toBe("error");
    expect(m.message).toMatch(/^4 rank\(s\) × 3\.1 GiB = 12\.3 GiB per node of 10\.0 GiB available \(123%\): above 80%, refused; at most 2 rank\(s\) per node fit/);
  });

  it("passes below 80%, counts SVGD's buffers, and warns when the available memory is unknown", () => {
    const ok = advise({ states: 4, memPerTask: 1 * GiB }, request(1, 4, 1, 10 * GiB));
    expect(rule(ok, "memory")[0]!.level).toBe("ok");
    expect(ok.ok).toBe(true);
    const svgd = advise({ particles: 40_000, dim: 2, ranks: 2 }, request(1, 2, 1, 8 * GiB));
    expect(svgd.layout.memPerRank).toBeGreaterThan(8 * 20_000 * 40_000); // the distance rows
    expect(rule(svgd, "memory")[0]!.level).toBe("error");
    expect(rule(advise({ states: 2 }, request(1, 2, 1)), "memory")[0]).toMatchObject({ level: "warn", message: expect.stringMatching(/memory not checked: .*pass --mem/) });
  });
});

describe("advise: oversubscription and load", () => {
  it("more threads than cores: a smaller pool; more ranks than cores: refused", () => {
    const pool = advise({ states: 2 }, request(1, 2, 4, 64 * GiB));
    expect(rule(pool, "oversubscription")[0]).toMatchObject({ level: "ok" });
    const over = advise({ states: 2 }, { ...request(1, 2, 4, 64 * GiB), cpusPerNode: 4 });
    expect(rule(over, "oversubscription")[0]).toEqual({
      rule: "oversubscription",
      level: "warn",
      message: "2 rank(s) × pool 4 = 8 threads on 4 cores per node (2.0× oversubscribed); use a pool of 2",
    });
    const ranks = advise({ particles: 64, ranks: 6 }, machine(2));
    expect(rule(ranks, "oversubscription")[0]!.level).toBe("error");
    expect(ranks.ok).toBe(false);
  });

  it("a busy machine is a warning", () => {
    expect(rule(advise({ states: 2 }, machine(2, 8 * GiB, 16.5)), "load")[0]!.message).toBe(
      "this machine is busy: load 16.5 on 2 cores; fewer cores are free than counted and timings will be noisy",
    );
    expect(rule(advise({ states: 2 }, machine(2, 8 * GiB, 0.3)), "load")).toEqual([]);
  });
});

describe("advise: layout and commands", () => {
  it("one rank per state while cores last, the pool from the rest; srun and sbatch lines", () => {
    const a = advise({ states: 4, walkers: 32, script: "examples/ensemble-sampler.ts" }, machine(8));
    expect(a.layout).toMatchObject({ ranks: 4, poolSize: 2, groups: 4, ranksPerGroup: 1 });
    expect(a.commands.launch).toBe("npx zmpi launch -n 4 examples/ensemble-sampler.ts");
    expect(a.commands.srun).toBe("srun -N1 --ntasks-per-node=4 -c 2 node --import tsx examples/ensemble-sampler.ts");
    const r = advise({ states: 4, walkers: 32 }, request(2, 2, 2, 8 * GiB));
    expect(r.layout).toMatchObject({ ranks: 4, nodes: 2, ranksPerNode: 2, poolSize: 2 });
    expect(r.commands.sbatch.slice(0, 3)).toEqual(["#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=2", "#SBATCH --cpus-per-task=2"]);
    expect(advise({ particles: 100 }, machine(8)).layout.ranks).toBe(5);
    expect(() => advise({ states: 0 }, machine(2))).toThrow(UsageError);
  });

  it("reads a Slurm allocation from SLURM_*, else this machine", () => {
    const env = {
      SLURM_JOB_ID: "7",
      SLURM_JOB_NUM_NODES: "2",
      SLURM_JOB_CPUS_PER_NODE: "4(x2)",
      SLURM_TASKS_PER_NODE: "2(x2)",
      SLURM_CPUS_PER_TASK: "2",
      SLURM_MEM_PER_CPU: "1024",
    };
    expect(detectResources(env)).toEqual({ source: "slurm", nodes: 2, cpusPerNode: 4, tasksPerNode: 2, cpusPerTask: 2, memPerNode: 4 * GiB });
    expect(detectResources({}, { cpus: 6, freeMem: 9 * GiB, constrainedMem: 4 * GiB, load: 1.5 })).toEqual({
      source: "machine",
      nodes: 1,
      cpusPerNode: 6,
      memPerNode: 4 * GiB,
      load: 1.5,
    });
    expect(() => detectResources({ SLURM_JOB_ID: "1", SLURM_CPUS_PER_TASK: "x" })).toThrow(/SLURM_CPUS_PER_TASK/);
  });
});

describe("zmpi advise (command line)", () => {
  const run = (flags: Parameters<typeof runAdvise>[0]) => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (d: Buffer) => (text += d.toString()));
    const status = runAdvise(flags, out, {});
    return { status, text };
  };

  it("prints the layout, the lines to run and each check; status 2 when refused", () => {
    const ok = run({ particles: 128, nodes: 2, ntasksPerNode: 3, cpusPerTask: 1, mem: 4 * GiB });
    expect(ok.status).toBe(0);
    expect(ok.text).toContain("srun:  srun -N2 --ntasks-per-node=3 -c 1 node --import tsx app.ts");
    expect(ok.text).toContain("WARN divisibility: 128 particles over 6 ranks leaves shards of 21/22; 4 or 8 ranks divide evenly");
    expect(ok.text).toMatch(/advice: ok to run/);
    const bad = run({ states: 2, memPerTask: 8 * GiB, nodes: 1, ntasksPerNode: 2, cpusPerTask: 1, mem: 8 * GiB });
    expect(bad.status).toBe(2);
    expect(bad.text).toMatch(/FAIL memory: .*refused/);
    const json = JSON.parse(run({ states: 3, walkers: 8, nodes: 1, ntasksPerNode: 3, cpusPerTask: 1, mem: 8 * GiB, json: true }).text);
    expect(json).toMatchObject({ ok: true, layout: { ranks: 3, groups: 3 }, resources: { source: "request" } });
  });

  it("parses sizes, takes an allocation from flags or the environment, and is a registered command", async () => {
    expect([parseSize("512M"), parseSize("2G"), parseSize("1.5GiB"), parseSize("4096")]).toEqual([512 * 2 ** 20, 2 * GiB, 1.5 * GiB, 4096]);
    expect(() => parseSize("lots")).toThrow(/expected a size like 512M/);
    expect(resourcesFrom({ nodes: 2, ntasksPerNode: 2, cpusPerTask: 3 })).toMatchObject({ source: "request", nodes: 2, cpusPerNode: 6 });
    expect(resourcesFrom({}, { SLURM_JOB_ID: "1", SLURM_NNODES: "3", SLURM_CPUS_ON_NODE: "8" })).toMatchObject({ source: "slurm", nodes: 3, cpusPerNode: 8 });
    let status = -1;
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => {
      out.push(String(s));
      return true;
    }) as typeof process.stdout.write;
    try {
      await program((s) => (status = s)).parseAsync([
        "node",
        "zmpi",
        "advise",
        "--states",
        "2",
        "--nodes",
        "1",
        "--ntasks-per-node",
        "2",
        "--cpus-per-task",
        "1",
        "--mem",
        "4G",
        "--json",
      ]);
    } finally {
      process.stdout.write = write;
    }
    expect(status).toBe(0);
    expect(JSON.parse(out.join("")).layout.ranks).toBe(2);
  });
});
