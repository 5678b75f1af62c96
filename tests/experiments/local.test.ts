// The whole pipeline without Slurm: the local executor runs each job through `zmpi launch` in
// the background, as sbatch would queue it. The inference example's four strategies match the
// baseline; the sweep runs as one job per stage (the second waits for the first); and the run
// manifest survives `zmpi wait` being killed again and again mid-run.
//
// The jobs run "node launcher/bin.mjs", which needs dist/: run `npm run build` first.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { XMLValidator } from "fast-xml-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readTable, RunManifest } from "../../src/experiments/index.js";
import { parseCsv } from "../../src/experiments/tables.js";
import { killWaitRepeatedly, writeSleepers } from "./kill-wait.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "launcher", "bin.mjs");
const work = mkdtempSync(join(tmpdir(), "zmpi-local-exp-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs the zmpi CLI from the repository root; never hangs (deadline, then SIGKILL). */
export function zmpi(args: string[], timeoutMs = 240_000) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL" });
}

const distMissing = !existsSync(join(ROOT, "dist", "launcher", "cli.js")) ? `${join(ROOT, "dist")} is missing: run "npm run build" first` : null;
if (distMissing) console.warn(`skipped: ${distMissing}`);

describe.skipIf(distMissing !== null)("experiments on this machine (--local)", () => {
  beforeAll(() => {
    if (distMissing) throw new Error(distMissing);
  });

  it("the inference example: baseline + four strategies, 4/4 match, summary and plots", () => {
    const out = join(work, "inference");
    const r = zmpi(["experiment", "examples/inference/experiment.json", "--local", "-o", out, "--interval", "0.5", "--timeout", "200", "--progress", "lines"]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^4\/4 strategies match the baseline$/m);
    const run = join(out, readdirSync(out).find((n) => n.startsWith("run_"))!);
    const m = RunManifest.open(run).data;
    expect(m.executor).toBe("local");
    expect(m.jobs.map((j) => [j.strategy, j.state, j.exitCode])).toEqual([
      ["baseline", "COMPLETED", 0],
      ["tp-across-nodes", "COMPLETED", 0],
      ["pp-across-nodes", "COMPLETED", 0],
      ["tp-inside-node", "COMPLETED", 0],
      ["tp-inside-pp-across", "COMPLETED", 0],
    ]);
    const csv = parseCsv(readFileSync(join(run, "summary.csv"), "utf8"));
    const col = (n: string) => csv[0]!.indexOf(n);
    expect(csv.slice(1).map((row) => [row[col("strategy")], row[col("match")], row[col("matchRate")]])).toEqual(
      ["tp-across-nodes", "pp-across-nodes", "tp-inside-node", "tp-inside-pp-across"].map((s) => [s, "true", "1"]),
    );
    for (const row of csv.slice(1)) expect(Number(row[col("tokensPerSec")])).toBeGreaterThan(0);
    for (const svg of ["latency_vs_correctness.svg", "throughput.svg"]) {
      const text = readFileSync(join(run, svg), "utf8");
      expect(XMLValidator.validate(text)).toBe(true);
      for (const s of ["tp-across-nodes", "pp-across-nodes", "tp-inside-node", "tp-inside-pp-across"]) expect(text).toContain(`>${s}<`);
    }
  }, 300_000);

  it("the sweep as one job per stage: samplers wait for targets, one table of 4 sampler rows, per-task logs", async () => {
    const out = join(work, "sweep");
    const r = zmpi(["experiment", "examples/sweep-stages.json", "--local", "-o", out, "--interval", "0.5", "--timeout", "200", "--progress", "lines"]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const run = join(out, readdirSync(out).find((n) => n.startsWith("run_"))!);
    const m = RunManifest.open(run).data;
    expect(m.jobs.map((j) => [j.strategy, j.state, j.collect?.status])).toEqual([
      ["targets", "COMPLETED", "skipped"],
      ["samplers", "COMPLETED", "ok"],
    ]);
    expect(m.jobs[1]!.dependsOn).toEqual([m.jobs[0]!.jobId]);
    const t = await readTable(join(run, "results.parquet"));
    expect(t.rows.map((x) => `${x.target}/${x.sampler}`).sort()).toEqual(["bimodal/1", "bimodal/2", "trimodal/1", "trimodal/2"]);
    expect(t.rows.every((x) => x.strategy === "samplers" && typeof x.acceptance === "number")).toBe(true);
    expect(readFileSync(join(run, "targets", "logs", "build_target", "bimodal.log"), "utf8")).toMatch(/target bimodal: 2 modes/);
    expect(readFileSync(join(run, "samplers", "logs", "sampler", "trimodal", "2.log"), "utf8")).toMatch(/sampler 2 on trimodal/);
    expect(readFileSync(join(run, "samplers", "local.out"), "utf8")).toMatch(/\[4\/4\] completed sampler\//);
  }, 300_000);

  it("the manifest survives zmpi wait killed (SIGKILL) over and over mid-run; the next status and wait pick the run up", async () => {
    const cfg = join(work, "sleepers.json");
    writeSleepers(cfg, join(work, "sleep-runs"), 1, [1500, 3000, 4500]);
    const sub = zmpi(["submit", cfg, "--local"]);
    expect(sub.status, sub.stderr).toBe(0);
    const run = sub.stdout.trim();
    const { kills, states: seen } = await killWaitRepeatedly(BIN, ROOT, run, ["s0", "s1", "s2"], { times: 12, minMs: 150, spreadMs: 500 });
    expect(kills).toBeGreaterThan(3);
    const st = zmpi(["status", run]);
    expect(st.status, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/s0 .*local-\d+/);
    const done = zmpi(["wait", run, "--interval", "0.2", "--timeout", "120", "--progress", "none"]);
    expect(done.status, done.stdout + done.stderr).toBe(0);
    const final = RunManifest.open(run).data;
    expect(final.jobs.map((j) => [j.strategy, j.state, j.exitCode])).toEqual([
      ["s0", "COMPLETED", 0],
      ["s1", "COMPLETED", 0],
      ["s2", "COMPLETED", 0],
    ]);
    expect(seen.has("RUNNING") || seen.has("PENDING")).toBe(true);
    const c = zmpi(["collect", run]);
    expect(c.status, c.stdout + c.stderr).toBe(0);
    expect(c.stdout).toMatch(/^3 rows -> /m);
  }, 240_000);
});
