/**
 * Runs rank-main.ts as real jobs and collects per-group results: one job per rank count, started
 * again from the group after the one that broke it (see rank-main.ts), at most a few times, so a
 * broken case costs a restart and every other group is still reported by name.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { plan, type JobPlan, type Step } from "./groups.js";
import type { GroupResult } from "./plan.js";
import { caseCount, describeFailures, parseLines } from "./report.js";

/** Path of the per-rank program. */
export const RANK_MAIN = fileURLToPath(new URL("./rank-main.ts", import.meta.url));

/** What one launch gave back. */
export interface Launched {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A group's results on every rank (index = rank), or why it did not run. */
export interface StepOutcome {
  step: Step;
  perRank: Array<GroupResult | null>;
  /** Set when no rank reported this group. */
  missing?: string;
}

/** Most jobs started for one rank count (the first, plus restarts after broken groups). */
const MAX_JOBS = 40;
/** No restart after this long for one rank count: a build that breaks everything still ends. */
const RESTART_BUDGET_MS = 240_000;

/**
 * Runs the plan for `np` ranks through `launch(from)` (which starts a job at group `from`),
 * restarting after a group that ended its job, and returns every step's outcome.
 */
export async function runPlan(np: number, jp: JobPlan, launch: (from: number) => Promise<Launched>): Promise<{ outcomes: StepOutcome[]; jobs: Launched[] }> {
  const steps = plan(np, jp);
  const perStep = new Map<number, Array<GroupResult | null>>();
  const why = new Map<number, string>();
  const jobs: Launched[] = [];
  let from = 0;
  const t0 = Date.now();
  while (from < steps.length && jobs.length < MAX_JOBS && (jobs.length === 0 || Date.now() - t0 < RESTART_BUDGET_MS)) {
    const job = await launch(from);
    jobs.push(job);
    const lines = parseLines(job.stdout);
    let ended = false;
    let broken = -1;
    for (const [rank, ls] of lines) {
      for (const l of ls) {
        if (l.g === -1) {
          ended = true;
          continue;
        }
        if (l.g < from) continue;
        if (!perStep.has(l.g))
          perStep.set(
            l.g,
            Array.from({ length: np }, () => null),
          );
        perStep.get(l.g)![rank] = l.absent ? null : (l.res ?? null);
        if (l.res?.fatal !== undefined && (broken < 0 || l.g < broken)) broken = l.g;
      }
    }
    if (ended && broken < 0 && job.code === 0) break;
    // The job stopped early: start over after the first group that broke it, or after the last
    // group every rank reported.
    const reported = [...perStep.keys()].filter((g) => g >= from);
    const next = broken >= 0 ? broken + 1 : reported.length ? Math.max(...reported) + 1 : from + 1;
    const tail = `${job.stderr.trim().split("\n").slice(-3).join(" | ")}`;
    for (let g = from; g < next; g++) if (!perStep.has(g)) why.set(g, `no rank reported it: the job (exit ${job.code}) stopped first: ${tail}`);
    from = next;
  }
  const stopped = `not run: ${jobs.length} job(s) in ${((Date.now() - t0) / 1000).toFixed(0)} s ended early before reaching it (restart limits: ${MAX_JOBS} jobs, ${RESTART_BUDGET_MS / 1000} s)`;
  for (let g = from; g < steps.length; g++) if (!perStep.has(g) && !why.has(g)) why.set(g, stopped);
  const outcomes = steps.map((step) => ({ step, perRank: perStep.get(step.g) ?? [], ...(why.has(step.g) && !perStep.has(step.g) ? { missing: why.get(step.g)! } : {}) }));
  return { outcomes, jobs };
}

/**
 * Declares, inside a describe, the jobs of `np` ranks (run once, in beforeAll) and one test per
 * (kind, group) reading their outcome, plus a one-line summary with the slowest groups.
 */
export function jobTests(np: number, where: string, jp: JobPlan, launch: (from: number) => Promise<Launched>): void {
  let outcomes: StepOutcome[] = [];
  let jobs = 0;
  let ms = 0;
  beforeAll(async () => {
    const t0 = Date.now();
    const r = await runPlan(np, jp, launch);
    outcomes = r.outcomes;
    jobs = r.jobs.length;
    ms = Date.now() - t0;
  }, 900_000);
  afterAll(() => {
    const cases = outcomes.reduce((a, o) => a + caseCount(o.perRank), 0);
    const slow = outcomes
      .map((o) => ({ name: `${o.step.kind} · ${o.step.group.name}`, ms: Math.max(0, ...o.perRank.map((r) => r?.ms ?? 0)) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 4);
    console.log(
      `conformance ${where}: ${cases} cases in ${outcomes.length} groups, ${jobs} job(s), ${(ms / 1000).toFixed(1)} s; slowest: ${slow.map((s) => `${s.name} ${(s.ms / 1000).toFixed(1)} s`).join(", ")}`,
    );
  });
  for (const step of plan(np, jp)) {
    it(`${step.kind} · ${step.group.name}`, () => {
      const o = outcomes[step.g];
      expect(o?.missing, o?.missing).toBeUndefined();
      const failures = describeFailures(o?.perRank ?? []);
      expect(caseCount(o?.perRank ?? []), "no case ran").toBeGreaterThan(0);
      expect(failures, `${failures.length} failing case(s) in ${step.kind} · ${step.group.name} ${where}:\n${failures.join("\n")}`).toEqual([]);
    }, 10_000);
  }
}
