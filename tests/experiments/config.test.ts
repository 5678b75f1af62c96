// The job and experiment config schema: every field's error names the field and what would fit.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, parseJob, type JobConfig } from "../../src/experiments/config.js";
import { loadExperiment, parseExperiment } from "../../src/experiments/experiment.js";
import { UsageError } from "../../src/errors.js";

const base = { name: "j", nodes: 2, tasksPerNode: 2, program: "app.ts" };

/** The issues of a config that must fail, as "path: message" lines. */
function issues(data: unknown, parse: (d: unknown) => unknown = (d) => parseJob(d, "job.json")): string[] {
  try {
    parse(data);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect(e).toBeInstanceOf(UsageError);
    return (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error(`accepted ${JSON.stringify(data)}`);
}

describe("job config: every field's error", () => {
  // [field override, the one issue expected]
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ name: "bad name!" }, /^name: "bad name!" is not a name of letters, digits, "\.", "_" or "-"/],
    [{ name: 3 }, /^name: expected a name .* got 3$/],
    [{ name: undefined }, /^name: expected a name .* got nothing$/],
    [{ description: 5 }, /^description: expected a string or a list of lines, got 5$/],
    [{ nodes: 0 }, /^nodes: expected a positive integer, got 0$/],
    [{ nodes: "2" }, /^nodes: expected a positive integer, got "2"$/],
    [{ tasksPerNode: 1.5 }, /^tasksPerNode: expected a positive integer, got 1\.5$/],
    [{ tasksPerNode: undefined }, /^tasksPerNode: expected a positive integer, got nothing$/],
    [{ cpusPerTask: -1 }, /^cpusPerTask: expected a positive integer, got -1$/],
    [{ mesh: { tp: 0 } }, /^mesh\.tp: expected a positive integer or -1 \(inferred\), got 0$/],
    [{ mesh: "tp:4" }, /^mesh: expected an object of dimension sizes such as \{ "pp": 2, "tp": 2 \}, got "tp:4"$/],
    [{ mesh: { "t p": 2 } }, /^mesh\.t p: "t p" is not a dimension name/],
    [{ mesh: { tp: 3 } }, /^mesh: tp=3 = 3 ranks, but the job has 4 tasks \(nodes 2 x tasksPerNode 2\); shapes that fit: \{ tp: 4 \}/],
    [{ mesh: { pp: -1, tp: -1 } }, /^mesh: only one dimension may be -1 \(inferred\), got pp and tp .*shapes that fit: \{ pp: 1, tp: 4 \}, \{ pp: 2, tp: 2 \}/],
    // The issue's example: placement is an explicit choice, not an accident of divisibility.
    [
      { mesh: { tp: 4 } },
      /^placement\.tp: tp=4 does not divide 2 tasks per node, so TP groups cannot sit inside nodes; make tasks per node a multiple of 4, or to place TP across nodes say placement: \{ tp: "across-nodes" \}$/,
    ],
    [{ mesh: { pp: 2, tp: 2 }, placement: { pp: "across-nodes", tp: "across-nodes" } }, /^placement\.tp: some tp groups sit inside one node/],
    [
      { nodes: 1, tasksPerNode: 4, mesh: { tp: 4 }, placement: { tp: "across-nodes" } },
      /^placement\.tp: placement "across-nodes" needs a job of 2 nodes or more, but this one has 1$/,
    ],
    [{ placement: { tp: "inside" } }, /^placement\.tp: expected "inside-nodes", "across-nodes" or "any", got "inside"$/],
    [{ mesh: { tp: 4 }, placement: { tp: "across-nodes", pp: "any" } }, /^placement\.pp: "pp" is not a mesh dimension \(dimensions: tp\)$/],
    [{ placement: { tp: "any" } }, /^placement: placement without a mesh/],
    [{ time: "1h" }, /^time: "1h" is not a Slurm time limit such as "00:30:00"/],
    [{ partition: "a b" }, /^partition: "a b" is not a partition name/],
    [{ account: "x;y" }, /^account: "x;y" is not an account name/],
    [{ qos: "" }, /^qos: "" is not a QOS name/],
    [{ gres: "gpu 2" }, /^gres: "gpu 2" is not a GRES list such as "gpu:2"/],
    [{ sbatch: ["exclusive"] }, /^sbatch\[0\]: "exclusive" is not an sbatch option starting with "-"/],
    [{ sbatch: "--exclusive" }, /^sbatch: expected a list of sbatch options, got "--exclusive"$/],
    [{ env: { "1A": "x" } }, /^env\.1A: "1A" is not an environment variable name/],
    [{ env: { A: {} } }, /^env\.A: expected a string \(or number\), got \{\}$/],
    [{ env: "A=1" }, /^env: expected an object of NAME: value, got "A=1"$/],
    [{ env: { ZMPI_SECRET: "x".repeat(20) } }, /^env\.ZMPI_SECRET: remove it: the script makes a fresh secret per job/],
    [{ env: { ZMPI_MESH: "tp:2" } }, /^env\.ZMPI_MESH: remove it: the script sets it from the "mesh" field$/],
    [{ modules: ["gcc; rm -rf"] }, /^modules\[0\]: "gcc; rm -rf" is not a module name/],
    [{ container: " apptainer" }, /^container: " apptainer" is not a command prefix/],
    [{ program: "" }, /^program: "" is not a script path/],
    [{ program: undefined }, /^program: expected a script path .* got nothing$/],
    [{ args: [{}] }, /^args\[0\]: expected a string \(or number\), got \{\}$/],
    [{ nodeOptions: ["max-old-space-size=1"] }, /^nodeOptions\[0\]: "max-old-space-size=1" is not a node option starting with "-"$/],
    [{ workdir: "a\nb" }, /^workdir: "a\\nb" is not a directory path$/],
    [{ output: "" }, /^output: "" is not a directory path$/],
    [{ timeout: 0 }, /^timeout: expected a positive number of seconds, got 0$/],
    [{ timeout: "10" }, /^timeout: expected a number of seconds, got "10"$/],
    [{ distribution: "round" }, /^distribution: expected "block", "block:block", "block:cyclic", "cyclic" or "plane", got "round"$/],
    [
      { mesh: { tp: 4 }, placement: { tp: "across-nodes" }, distribution: "cyclic" },
      /^distribution: "cyclic" puts consecutive ranks on different nodes, but the mesh placement assumes block distribution/,
    ],
    [{ hugePages: "yes" }, /^hugePages: expected true or false, got "yes"$/],
    [{ template: 1 }, /^template: expected true or false, got 1$/],
    [{ results: { table: "out.txt" } }, /^results\.table: "out\.txt" is not a relative file name ending in \.jsonl, \.csv or \.parquet/],
    [{ results: { table: "/abs/out.csv" } }, /^results\.table: "\/abs\/out\.csv" is not a relative file name/],
    [{ results: { rows: -1 } }, /^results\.rows: expected a row count \(integer >= 0\), got -1$/],
    [{ results: { collect: "no" } }, /^results\.collect: expected true or false, got "no"$/],
    [{ results: { columns: "a" } }, /^results\.columns: expected a list of column names, got "a"$/],
    [{ results: { tabel: "x.csv" } }, /^results\.tabel: unknown field; did you mean "table"\?$/],
    [{ after: ["bad name"] }, /^after\[0\]: "bad name" is not the name of another job of the run$/],
    [{ nodez: 2 }, /^nodez: unknown field; did you mean "nodes"\?$/],
    [{ zzz: 1 }, /^zzz: unknown field; known fields: name, description, nodes/],
  ];
  it.each(cases)("%j", (override, re) => {
    const got = issues({ ...base, ...override });
    expect(got, got.join("\n")).toHaveLength(1);
    expect(got[0]).toMatch(re);
  });

  it("all problems at once, each on its own line of the message, the file named first", () => {
    try {
      parseJob({ name: "x", nodes: 0, tasksPerNode: "a", time: "soon" }, "strategies.yaml");
      throw new Error("accepted");
    } catch (e) {
      expect((e as Error).message).toMatch(/^config: strategies\.yaml: 4 problems\n {2}\w+: /);
      expect((e as ConfigError).issues.map((i) => i.path).sort()).toEqual(["nodes", "program", "tasksPerNode", "time"]);
    }
  });

  it("a good config gets its defaults, the -1 resolved and every placement explicit", () => {
    const j: JobConfig = parseJob({ ...base, tasksPerNode: 4, mesh: { pp: 2, dp: -1, tp: 2 }, placement: { pp: "across-nodes" }, env: { SEED: 7 }, args: ["--n", 3] });
    expect(j.mesh).toEqual({ pp: 2, dp: 2, tp: 2 });
    expect(j.placement).toEqual({ pp: "across-nodes", dp: "any", tp: "inside-nodes" });
    expect(j).toMatchObject({
      cpusPerTask: 1,
      time: "00:30:00",
      output: "runs",
      timeout: 600,
      hugePages: true,
      template: false,
      sbatch: [],
      modules: [],
      after: [],
      env: { SEED: "7" },
      args: ["--n", "3"],
    });
    // TP across 2 nodes: accepted once said.
    expect(parseJob({ ...base, mesh: { tp: 4 }, placement: { tp: "across-nodes" } }).placement).toEqual({ tp: "across-nodes" });
  });
});

describe("experiment config", () => {
  const exp = (over: Record<string, unknown> = {}) => ({
    name: "inference",
    defaults: { nodes: 2, tasksPerNode: 2, program: "serve.ts", env: { A: "1" }, output: "runs/x" },
    strategies: [
      { name: "tp-across", mesh: { tp: 4 }, placement: { tp: "across-nodes" }, env: { B: "2" } },
      { name: "pp-across", mesh: { pp: 2, dp: 2 }, placement: { pp: "across-nodes", dp: "inside-nodes" } },
    ],
    baseline: { program: "baseline.ts" },
    summary: { key: "prompt_id", compare: ["output"], tolerance: { abs: 1e-9 } },
    ...over,
  });

  it("strategies are the defaults plus their own fields (env merged); the baseline is one task", () => {
    const e = parseExperiment(exp());
    expect(e.strategies.map((s) => s.name)).toEqual(["tp-across", "pp-across"]);
    expect(e.strategies[0]!.env).toEqual({ A: "1", B: "2" });
    expect(e.baseline).toMatchObject({ name: "baseline", nodes: 1, tasksPerNode: 1, program: "baseline.ts", env: { A: "1" } });
    expect(e.baseline!.mesh).toBeUndefined();
    expect(e.summary).toEqual({ key: "prompt_id", compare: ["output"], tolerance: { abs: 1e-9, rel: 0 }, throughputTime: "wall" });
  });

  const pe = (d: unknown) => parseExperiment(d, "experiment.json");
  it.each([
    [{ strategies: [] }, /^strategies: an experiment needs at least one strategy$/],
    [{ strategies: "a" }, /^strategies: expected a list of strategies, got "a"$/],
    [{ name: "a b" }, /^name: "a b" is not a name/],
    [{ strategys: [] }, /^strategys: unknown field; did you mean "strategies"\?$/],
    [{ defaults: { nodez: 1 } }, /^defaults\.nodez: unknown field; did you mean "nodes"\?$/],
    [{ defaults: { name: "x", nodes: 2, tasksPerNode: 2, program: "a.ts" } }, /^defaults\.name: each strategy has its own name/],
    [{ strategies: [{ name: "a", mesh: { tp: 4 } }] }, /^strategies\[0\]\.placement\.tp: tp=4 does not divide 2 tasks per node/],
    [{ strategies: [{ name: "a" }, { name: "a" }] }, /^strategies\[1\]\.name: "a" is already the name of strategies\[0\]$/],
    [{ strategies: [{ name: "baseline" }] }, /^strategies\[0\]\.name: "baseline" is reserved/],
    [{ strategies: [{ name: "a", after: ["b"] }, { name: "b" }] }, /^strategies\[0\]\.after\[0\]: "b" is not a strategy listed before this one/],
    [{ strategies: [{ name: "a", after: ["a"] }] }, /^strategies\[0\]\.after\[0\]: a job cannot wait for itself$/],
    [{ strategies: [{ name: "a" }, { name: "b", output: "elsewhere" }] }, /^strategies\[1\]\.output: every strategy of a run writes under one output root/],
    [{ baseline: { nodes: "1" } }, /^baseline\.nodes: expected a positive integer, got "1"$/],
    [{ summary: { key: "id" } }, /^summary\.compare: expected a list of column names/],
    [{ summary: { key: "id", compare: [] } }, /^summary\.compare: name at least one column to compare$/],
    [{ summary: { key: "id", compare: ["o"], tolerance: { abs: -1 } } }, /^summary\.tolerance\.abs: expected a number >= 0, got -1$/],
    [{ summary: { key: "id", compare: ["o"], compareModule: "cmp.js#1x" } }, /^summary\.compareModule: expected "path\/to\/module\.js#exportName"/],
    [{ summary: { key: "id", compare: ["o"], throughputTime: "cpu" } }, /^summary\.throughputTime: expected "wall" or "max-latency", got "cpu"$/],
    [{ summary: { key: "id", compare: ["o"], latncy: "l" } }, /^summary\.latncy: unknown field; did you mean "latency"\?$/],
  ])("%j", (over, re) => {
    const got = issues(exp(over), pe);
    expect(got, got.join("\n")).toHaveLength(1);
    expect(got[0]).toMatch(re);
  });

  const dir = mkdtempSync(join(tmpdir(), "zmpi-config-test-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("loads JSON and YAML files; a single job's file is an experiment of one strategy; bad syntax names the file", async () => {
    writeFileSync(
      join(dir, "e.yaml"),
      "name: inference\ndefaults:\n  nodes: 2\n  tasksPerNode: 2\n  program: serve.ts\nstrategies:\n  - name: tp-across\n    mesh: { tp: 4 }\n    placement: { tp: across-nodes }\n",
    );
    expect((await loadExperiment(join(dir, "e.yaml"))).strategies[0]!.mesh).toEqual({ tp: 4 });
    writeFileSync(join(dir, "job.json"), JSON.stringify(base));
    const one = await loadExperiment(join(dir, "job.json"));
    expect(one.strategies.map((s) => s.name)).toEqual(["j"]);
    expect(one.source).toBe(join(dir, "job.json"));
    writeFileSync(join(dir, "bad.json"), "{ nodes: 2 ");
    await expect(loadExperiment(join(dir, "bad.json"))).rejects.toThrow(/bad\.json: not valid JSON/);
    writeFileSync(join(dir, "bad.yaml"), "a: [1, 2\n");
    await expect(loadExperiment(join(dir, "bad.yaml"))).rejects.toThrow(/bad\.yaml: not valid YAML/);
    await expect(loadExperiment(join(dir, "none.json"))).rejects.toThrow(/cannot read config .*none\.json: no such file/);
    writeFileSync(join(dir, "x.toml"), "");
    await expect(loadExperiment(join(dir, "x.toml"))).rejects.toThrow(/config files are \.json, \.yaml or \.yml, not "\.toml"/);
  });
});
