// Shared by the local and the Slurm manifest tests: start `zmpi wait` on a run and SIGKILL it
// at a random moment, again and again, checking after each kill that the manifest is whole.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";

/** Kills `zmpi wait <run>` `times` times after `minMs`..`minMs + spreadMs`; returns how many kills hit a live wait. */
export async function killWaitRepeatedly(
  bin: string,
  cwd: string,
  run: string,
  jobs: string[],
  o: { times: number; minMs: number; spreadMs: number; env?: NodeJS.ProcessEnv },
): Promise<{ kills: number; states: Set<string> }> {
  let kills = 0;
  const states = new Set<string>();
  for (let i = 0; i < o.times; i++) {
    const w = spawn(process.execPath, [bin, "wait", run, "--interval", "0.1", "--progress", "lines"], { cwd, env: o.env, stdio: "ignore" });
    const gone = new Promise((res) => w.once("exit", res));
    await new Promise((res) => setTimeout(res, o.minMs + Math.random() * o.spreadMs));
    if (w.exitCode === null && w.signalCode === null) kills++;
    w.kill("SIGKILL");
    await gone;
    // Whatever instant the kill hit, the manifest is whole and lists every job.
    const data = JSON.parse(readFileSync(join(run, "manifest.json"), "utf8")) as { jobs: Array<{ strategy: string; state: string }> };
    expect(data.jobs.map((j) => j.strategy)).toEqual(jobs);
    for (const j of data.jobs) states.add(j.state);
  }
  return { kills, states };
}

/** An experiment of jobs that sleep `sleepsMs` each (tests/experiments/fixtures/sleeper.ts), one row per rank. */
export function writeSleepers(path: string, output: string, nodes: number, sleepsMs: number[]): void {
  const config = {
    name: "sleepers",
    defaults: { program: "tests/experiments/fixtures/sleeper.ts", nodes, tasksPerNode: 1, output, results: { table: "results.csv", rows: nodes } },
    strategies: sleepsMs.map((ms, i) => ({ name: `s${i}`, env: { SLEEP_MS: ms } })),
  };
  writeFileSync(path, JSON.stringify(config));
}
