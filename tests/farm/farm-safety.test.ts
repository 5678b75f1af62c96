// The farm, safe by construction: a task from the main script is refused at once (it used to
// deadlock a worker until ZMPI_TIMEOUT, then read as a dead rank); an overdue task is a timeout
// naming the task and its rank, never a death; a task that never ran says so in the progress.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { linesOf, runJob } from "../helpers/run.js";

const logs = () => mkdtempSync(join(tmpdir(), "zmpi-farm-safety-"));

function resultOf(stdout: string): Record<string, string> {
  const line = linesOf(stdout, 0).find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`no RESULT line in:\n${stdout}`);
  return JSON.parse(line.slice(7));
}

describe("farm safety", () => {
  it("refuses a task exported by the running main script at submit, saying how to fix it", async () => {
    const r = await runJob("farm-safety.ts", 2, { env: { MODE: "main", LOGS: logs(), ZMPI_TIMEOUT: "60" }, timeoutSec: 60 });
    expect(r.code, r.stderr).toBe(0);
    const res = resultOf(r.stdout);
    expect(res.submit).toMatch(
      /^UsageError: farm.submit: "selfTask" is exported by .*farm-safety\.ts, the program's main script: move it to a module of its own \(e\.g\. \.\/tasks\.ts\)/,
    );
    expect(res.map).toMatch(/^UsageError: farm.submit: "selfTask" is exported by/);
    expect(res.other).toBe(9);
  });

  it("reports a task past its deadline as a timeout naming the task and its rank, while other tasks keep finishing", async () => {
    const r = await runJob("farm-safety.ts", 3, { env: { MODE: "timeout", LOGS: logs() }, killOnBadExit: false, timeoutSec: 60 });
    const all = `${r.stdout}\n${r.stderr}`;
    expect(r.code, all).not.toBe(0);
    expect(r.code).not.toBe(124); // ended by the farm, not by the launcher's time limit
    expect(linesOf(r.stderr, 0).join("\n")).toMatch(
      /\[zmpi farm\] task "sleepy" on rank [12] did not finish within its deadline of 1\.5 s \(attempt 1; log: .*sleepy\.log\); rank [12] is still running it/,
    );
    expect(resultOf(r.stdout).sleepy).toMatch(/^TaskError: .*task "sleepy" on rank [12] did not finish within its deadline/);
    expect(all).not.toMatch(/died|rank -1/);
    expect(all).toMatch(/job failed: .*task "sleepy" on rank [12] did not finish/); // every rank hears it as a timeout
  });

  it("a task that never ran (its input failed) shows as 'not run' in the progress lines, never as rank -1", async () => {
    const r = await runJob("farm-safety.ts", 2, { env: { MODE: "notrun", LOGS: logs() }, timeoutSec: 60 });
    expect(r.code, r.stderr).toBe(0);
    const progress = linesOf(r.stdout, 0).filter((l) => /^\[\d+\/\d+\]/.test(l));
    expect(progress).toEqual(expect.arrayContaining([expect.stringMatching(/failed boom \(rank 1\)$/), "[2/2] failed child (not run)"]));
    expect(r.stdout).not.toMatch(/rank -1/);
  });
});
