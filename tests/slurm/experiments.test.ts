// Experiments on the local Slurm cluster (../shared/slurm-local/): the inference example's four
// strategies and its baseline as five sbatch jobs, the sweep as one job and as one job per stage
// (--dependency=afterok), and a run manifest that survives `zmpi wait` killed mid-run. This
// cluster keeps no accounting, so job states come from scontrol (the degraded path).
//
// The jobs run examples that import "zmpi" (dist/): run `npm run build` first.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { XMLValidator } from "fast-xml-parser";
import { afterAll, describe, expect, it } from "vitest";
import { readTable, RunManifest } from "../../src/experiments/index.js";
import { parseCsv } from "../../src/experiments/tables.js";
import { killWaitRepeatedly, writeSleepers } from "../experiments/kill-wait.js";
import { cleanEnv, slurmSkipReason } from "../helpers/slurm.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "launcher", "bin.mjs");
const skipReason = slurmSkipReason() ?? (existsSync(join(ROOT, "dist", "launcher", "cli.js")) ? null : `${join(ROOT, "dist")} is missing: run "npm run build" first`);
if (skipReason) console.warn(`skipped: ${skipReason}`);
const work = mkdtempSync(join(tmpdir(), "zmpi-slurm-exp-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs the zmpi CLI (async, so several runs share the cluster); SIGKILL at the deadline. */
function zmpi(args: string[], timeoutMs = 300_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => c.kill("SIGKILL"), timeoutMs);
    c.on("close", (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

const runIn = (out: string) => join(out, readdirSync(out).find((n) => n.startsWith("run_"))!);
const STRATEGIES = ["tp-across-nodes", "pp-across-nodes", "tp-inside-node", "tp-inside-pp-across"];

describe.skipIf(skipReason !== null).concurrent("experiments on Slurm", () => {
  it("zmpi experiment examples/inference/experiment.json: five sbatch jobs, 4/4 strategies match the baseline, summary and plots", async () => {
    const out = join(work, "inference");
    const r = await zmpi(["experiment", "examples/inference/experiment.json", "-o", out, "--interval", "1", "--timeout", "240", "--progress", "lines"]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^4\/4 strategies match the baseline$/m);
    const run = runIn(out);
    const m = RunManifest.open(run).data;
    expect(m.executor).toBe("slurm");
    expect(m.jobs.map((j) => j.strategy)).toEqual(["baseline", ...STRATEGIES]);
    for (const j of m.jobs) {
      expect(j, j.strategy).toMatchObject({ state: "COMPLETED", exitCode: 0 });
      expect(j.jobId).toMatch(/^\d+$/);
      expect(["scontrol", "sacct", "marker"]).toContain(j.via);
      expect(readFileSync(join(run, j.dir, "job.exit"), "utf8")).toMatch(/^0 /);
      expect(existsSync(join(run, j.dir, `slurm-${j.jobId}.out`))).toBe(true);
    }
    // The 2-node strategies ran on both nodes; TP inside a node on one.
    expect(m.jobs.find((j) => j.strategy === "tp-across-nodes")!.nodeList).toBe("n[1-2]");
    expect(readFileSync(join(run, "tp-across-nodes", `slurm-${m.jobs[1]!.jobId}.out`), "utf8")).toMatch(/serve: mesh pp=1 dp=1 tp=4 \(pp single, dp single, tp across-nodes\)/);
    expect(readFileSync(join(run, "tp-inside-pp-across", `slurm-${m.jobs[4]!.jobId}.out`), "utf8")).toMatch(/tp inside-nodes/);
    const t = await readTable(join(run, "results.parquet"));
    expect(t.rows.length).toBe(5 * 24);
    const csv = parseCsv(readFileSync(join(run, "summary.csv"), "utf8"));
    const col = (n: string) => csv[0]!.indexOf(n);
    expect(csv.slice(1).map((row) => [row[col("strategy")], row[col("match")]])).toEqual(STRATEGIES.map((s) => [s, "true"]));
    for (const row of csv.slice(1)) expect(Number(row[col("tokensPerSec")]), row[0]).toBeGreaterThan(0);
    expect(readFileSync(join(run, "summary.md"), "utf8")).toMatch(/\*\*4\/4 strategies match the baseline\*\*/);
    for (const svg of ["latency_vs_correctness.svg", "throughput.svg"]) {
      const text = readFileSync(join(run, svg), "utf8");
      expect(XMLValidator.validate(text), svg).toBe(true);
      for (const s of STRATEGIES) expect(text, `${svg} names ${s}`).toContain(`>${s}<`);
    }
  }, 320_000);

  it("the sweep as one Slurm job and as one job per stage (afterok): 4 sampler rows each, per-task logs", async () => {
    const [one, staged] = await Promise.all([
      zmpi(["experiment", "examples/sweep-job.json", "-o", join(work, "sweep-job"), "--interval", "1", "--timeout", "240", "--progress", "lines"]),
      zmpi(["experiment", "examples/sweep-stages.json", "-o", join(work, "sweep-stages"), "--interval", "1", "--timeout", "240", "--progress", "lines"]),
    ]);
    expect(one.code, `${one.stdout}\n${one.stderr}`).toBe(0);
    expect(staged.code, `${staged.stdout}\n${staged.stderr}`).toBe(0);
    for (const [out, job] of [
      ["sweep-job", "sweep"],
      ["sweep-stages", "samplers"],
    ] as const) {
      const run = runIn(join(work, out));
      const t = await readTable(join(run, "results.csv"));
      expect(t.rows.map((x) => `${x.target}/${x.sampler}`).sort(), out).toEqual(["bimodal/1", "bimodal/2", "trimodal/1", "trimodal/2"]);
      expect(readFileSync(join(run, job, "logs", "sampler", "bimodal", "1.log"), "utf8")).toMatch(/sampler 1 on bimodal/);
    }
    const m = RunManifest.open(runIn(join(work, "sweep-stages"))).data;
    expect(m.jobs.map((j) => [j.strategy, j.state])).toEqual([
      ["targets", "COMPLETED"],
      ["samplers", "COMPLETED"],
    ]);
    expect(m.jobs[1]!.dependsOn).toEqual([m.jobs[0]!.jobId]);
    // The dependency is Slurm's: stage 2's script holds --dependency in its submission, not in a wrapper.
    expect(staged.stdout + staged.stderr).toMatch(/samplers \d+ PENDING|samplers \d+ RUNNING/);
    expect(readFileSync(join(runIn(join(work, "sweep-stages")), "targets", "logs", "build_target", "trimodal.log"), "utf8")).toMatch(/target trimodal: 3 modes/);
  }, 320_000);

  it("the manifest survives zmpi wait killed mid-run; zmpi status and a second wait pick the run up", async () => {
    const cfg = join(work, "sleepers.json");
    writeSleepers(cfg, join(work, "sleep-runs"), 2, [2000, 5000]);
    const sub = await zmpi(["submit", cfg]);
    expect(sub.code, sub.stderr).toBe(0);
    const run = sub.stdout.trim();
    await killWaitRepeatedly(BIN, ROOT, run, ["s0", "s1"], { times: 4, minMs: 400, spreadMs: 600, env: cleanEnv() });
    const st = await zmpi(["status", run]);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/s1/);
    const done = await zmpi(["wait", run, "--interval", "0.5", "--timeout", "120", "--progress", "none"]);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(RunManifest.open(run).data.jobs.map((j) => [j.state, j.exitCode])).toEqual([
      ["COMPLETED", 0],
      ["COMPLETED", 0],
    ]);
  }, 200_000);
});
