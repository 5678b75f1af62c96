// Fast, truthful failure (issue 10, rows F2, F3, F4, and the kill -9 baseline): a rank killed at a
// random moment, a rank that ends before it joins, a coordinator that dies during rendezvous, a
// frozen rank. Every job ends within seconds, no rank survives, and the error names the right rank
// and says what happened to it.
import { spawn } from "node:child_process";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { launch } from "../../launcher/launch.js";
import { fixture, linesOf, runJob } from "../helpers/run.js";
import { cleanEnv, slurmSkipReason } from "../helpers/slurm.js";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One job of tests/fixtures/busy.ts whose rank `victim` is killed `delayMs` after every rank printed its pid. */
async function killTrial(np: number, nodes: number, victim: number, delayMs: number): Promise<{ downMs: number; survivors: number[]; code: number }> {
  const out = new PassThrough();
  let text = "";
  out.on("data", (c: Buffer) => (text += c.toString()));
  const done = launch({ np, nodes, script: fixture("busy.mjs"), timeoutSec: 60, stdout: out, stderr: out });
  let pids: number[] = [];
  let ended = false;
  void done.then(() => (ended = true));
  while (!ended) {
    await sleep(20);
    pids = Array.from({ length: np }, (_, r) => Number(/^pid (\d+)$/m.exec(linesOf(text, r).join("\n"))?.[1]));
    if (pids.every((p) => p > 0)) break;
  }
  if (ended) throw new Error(`the job ended before every rank started:\n${text}`);
  await sleep(delayMs);
  const t0 = Date.now();
  process.kill(pids[victim]!, "SIGKILL");
  const code = await done;
  const downMs = Date.now() - t0;
  await sleep(200);
  return { downMs, survivors: pids.filter(alive), code };
}

describe("fast, truthful failure", () => {
  it("kill -9 of a random rank at a random moment (20 trials, 1 and 3 pretend nodes): every job down within seconds, no survivors", async () => {
    const trials = Array.from({ length: 20 }, (_, i) => ({ np: 3, nodes: i % 2 === 0 ? 1 : 3, victim: Math.floor(Math.random() * 3), delayMs: Math.floor(Math.random() * 2500) }));
    const results: Array<{ downMs: number; survivors: number[]; code: number }> = [];
    for (let i = 0; i < trials.length; i += 5) results.push(...(await Promise.all(trials.slice(i, i + 5).map((t) => killTrial(t.np, t.nodes, t.victim, t.delayMs)))));
    const downs = results.map((r) => r.downMs);
    for (const r of results) {
      expect(r.code).not.toBe(0);
      expect(r.survivors).toEqual([]);
      expect(r.downMs).toBeLessThan(10_000);
    }
    console.log(
      `kill -9: ${results.length}/${results.length} jobs down in ${(Math.min(...downs) / 1000).toFixed(1)}–${(Math.max(...downs) / 1000).toFixed(1)} s, 0 survivors (kills 0–2.5 s after start: before, during and after rendezvous)`,
    );
  }, 300_000);

  it("zmpi launch: a rank that exits with status 0 before init, and the coordinator's rank exiting with status 0 during rendezvous, end every rank within 10 s, naming it", async () => {
    const cases: Array<{ what: string; env: Record<string, string>; victim: number }> = [
      { what: "a rank that exits with status 0 before init", env: { EARLY: "exit", WHEN: "before" }, victim: 2 },
      {
        what: "the coordinator's rank exiting with status 0 during rendezvous",
        env: { EARLY: "exit", WHEN: "during", VICTIM: "0", DELAY_MS: "1000", LATE_RANK: "2", LATE_MS: "20000" },
        victim: 0,
      },
    ];
    const runs = await Promise.all(cases.map((c) => runJob("early-exit.ts", 3, { env: c.env, timeoutSec: 60 }).then((r) => ({ r, down: Date.now() }))));
    const said: string[] = [];
    runs.forEach(({ r, down }, i) => {
      const { what, victim } = cases[i]!;
      expect(r.code, r.stderr).not.toBe(0);
      const ended = /rank (\d+) ends early \(exit\) at (\d+)/.exec(r.stdout);
      expect(ended?.[1], r.stdout).toBe(String(victim));
      expect(r.stderr).toMatch(new RegExp(`zmpi launch: rank ${victim} exited with status 0 before it joined the job, while ranks? [\\d, ]+ waited for it at rendezvous`));
      // From the early end to the last rank down (the job's own start-up excluded).
      const downMs = down - Number(ended![2]);
      expect(downMs, r.stderr).toBeLessThan(10_000);
      said.push(`${what}: every rank down ${(downMs / 1000).toFixed(1)} s after it`);
    });
    console.log(`early end under zmpi launch (the rendezvous deadline is 120 s): ${said.join("; ")}`);
  }, 90_000);

  it("a frozen rank (SIGSTOP), the coordinator's rank 0 or rank 3, is reported as not answering, named right by every other rank", async () => {
    const victims = [0, 3];
    const runs = await Promise.all(victims.map((victim) => runJob("freeze.ts", 4, { env: { VICTIM: String(victim) }, killOnBadExit: false, timeoutSec: 60 })));
    const said: string[] = [];
    runs.forEach((r, i) => {
      const victim = victims[i]!;
      expect(r.code).not.toBe(0);
      const survivors = [0, 1, 2, 3].filter((x) => x !== victim);
      const times: number[] = [];
      for (const rank of survivors) {
        const text = linesOf(r.stdout, rank).join("\n");
        const m = new RegExp(`caught RankFailedError after ([\\d.]+) s: .*rank ${victim} \\(pid \\d+ on [^)]+\\) did not answer for 10 s \\(frozen or unreachable\\)`).exec(text);
        expect(m, `rank ${rank}:\n${text}\n${r.stderr}`).not.toBeNull();
        times.push(Number(m![1]));
        // Nobody blames the messenger.
        expect(text).not.toMatch(/closed its connection/);
      }
      expect(r.stdout).not.toMatch(/ERROR/);
      said.push(
        `rank ${victim}${victim === 0 ? " (the coordinator's)" : ""}: ${survivors.length}/${survivors.length} others report "rank ${victim} ... did not answer for 10 s (frozen or unreachable)" after ${Math.min(...times)}–${Math.max(...times)} s`,
      );
    });
    console.log(`SIGSTOP: ${said.join("; ")}`);
  }, 120_000);
});

const skipSlurm = slurmSkipReason();
if (skipSlurm) console.warn(`srun fault tests skipped: ${skipSlurm}`);

/** `srun -K` of tests/fixtures/early-exit.ts; resolves with status, output and duration. */
function srunEarly(env: Record<string, string>): Promise<{ code: number | null; out: string; ms: number; end: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const args = ["-K", "-N2", "-n4", "--label", process.execPath, "--import", "tsx", fixture("early-exit.ts")];
    // The variables in srun's own environment too: Slurm 22.05's --export=ALL does not override one already set.
    const child = spawn("srun", args, { env: cleanEnv({ ZMPI_SECRET: `faults-${Math.random().toString(36).slice(2)}-secret`, ...env }), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    const t = setTimeout(() => child.kill("SIGTERM"), 60_000);
    child.on("close", (code) => {
      clearTimeout(t);
      resolve({ code, out, ms: Date.now() - t0, end: Date.now() });
    });
  });
}

describe.skipIf(skipSlurm !== null)("fast failure under srun -K (as the sbatch templates run it)", () => {
  it("a rank killed before it joins, and the coordinator's rank killed during rendezvous, end the step within 10 s", async () => {
    const [early, coord] = await Promise.all([
      srunEarly({ EARLY: "kill", WHEN: "before", VICTIM: "3" }),
      srunEarly({ EARLY: "kill", WHEN: "during", VICTIM: "0", DELAY_MS: "1000", LATE_RANK: "3", LATE_MS: "20000" }),
    ]);
    const downMs = (r: { out: string; end: number }) => r.end - Number(/ends early \(kill\) at (\d+)/.exec(r.out)?.[1]);
    for (const r of [early, coord]) {
      expect(r.code, r.out).not.toBe(0);
      expect(r.out).not.toMatch(/ERROR/);
      expect(downMs(r), r.out).toBeLessThan(10_000);
    }
    expect(early.out).toMatch(/task 3: Killed/);
    expect(coord.out).toMatch(/task 0: Killed/);
    console.log(
      `srun -K: a rank killed before joining: step down ${(downMs(early) / 1000).toFixed(1)} s after; the coordinator's rank killed during rendezvous: ${(downMs(coord) / 1000).toFixed(1)} s after`,
    );
  }, 90_000);
});
