/** Runs a fixture on N real ranks through the launcher and captures what it printed. */
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { launch, type LaunchOptions } from "../../launcher/launch.js";

/** Output and status of one launched job. */
export interface JobResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  /** `Date.now()` when the job had ended. */
  endedAt: number;
}

/** Absolute path of a fixture in tests/fixtures. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
}

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString("utf8") };
}

/** Launches `script` on `np` ranks; never throws for a failing job (the status says it). */
export async function runJob(script: string, np: number, opts: Partial<LaunchOptions> = {}): Promise<JobResult> {
  const out = sink();
  const err = sink();
  const t0 = Date.now();
  const code = await launch({ np, script: script.includes("/") ? script : fixture(script), timeoutSec: 90, ...opts, stdout: out.stream, stderr: err.stream });
  return { code, stdout: out.text(), stderr: err.text(), ms: Date.now() - t0, endedAt: Date.now() };
}

/** Lines of `text` that `rank` printed (the launcher prefixes `[rank] `). */
export function linesOf(text: string, rank: number): string[] {
  const p = `[${rank}] `;
  return text
    .split("\n")
    .filter((l) => l.startsWith(p))
    .map((l) => l.slice(p.length));
}

/**
 * Milliseconds from the moment a fixture's victim announced its death (`dying at <Date.now()>`,
 * printed just before it kills itself) to `endedAt`, the end of the whole job. This is what a
 * "survivors detect a death within N s" test bounds: unlike the job's total time it does not
 * include the start-up of the ranks, which alone takes seconds on a loaded machine.
 */
export function msAfterDeath(stdout: string, endedAt: number): number {
  const at = /dying at (\d+)/.exec(stdout)?.[1];
  if (at === undefined) throw new Error(`the victim never printed "dying at <time>":\n${stdout}`);
  return endedAt - Number(at);
}
