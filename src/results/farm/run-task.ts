/**
 * Runs one task attempt in this process: loads the module by URL (functions are referenced by
 * module and export name, never shipped as source), calls the export with the arguments and a
 * task context, and captures what the task logs through the context.
 */
import { format } from "node:util";
import { isMainModule, moveTaskAdvice } from "../../compute/main-module.js";
import type { DoneMsg, TaskMsg, WireError } from "./protocol.js";

/** What a task function receives as its last argument. */
export interface TaskContext {
  /** Task name. */
  name: string;
  /** Rank running this attempt. */
  rank: number;
  /** Attempt number, 1-based. */
  attempt: number;
  /** Results of the tasks in `after`, in order. */
  inputs: unknown[];
  /** Logs a line to the task's `.log` (its stdout). */
  log(...args: unknown[]): void;
  /** Logs a line to the task's `.err` (its stderr). */
  error(...args: unknown[]): void;
}

function toWire(e: unknown): WireError {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack ?? `${e.name}: ${e.message}` };
  return { name: "Error", message: String(e), stack: String(e) };
}

/** Runs one attempt; never throws (a failure is in the result). */
export async function runTask(msg: TaskMsg, rank: number): Promise<DoneMsg> {
  let out = "";
  let err = "";
  const ctx: TaskContext = {
    name: msg.name,
    rank,
    attempt: msg.attempt,
    inputs: msg.inputs,
    log: (...a: unknown[]) => {
      out += `${format(...a)}\n`;
    },
    error: (...a: unknown[]) => {
      err += `${format(...a)}\n`;
    },
  };
  const t0 = performance.now();
  try {
    // Rank 0 refuses these at submit; a rank started from another script than rank 0's could
    // still meet one, and must fail the task rather than wait for its own main module forever.
    if (isMainModule(msg.url)) throw new Error(`rank ${rank} cannot import its own main script: ${moveTaskAdvice(msg.url, msg.exp)}`);
    const mod = (await import(msg.url)) as Record<string, unknown>;
    const fn = mod[msg.exp];
    if (typeof fn !== "function") throw new TypeError(`${msg.url} has no exported function "${msg.exp}" (exports: ${Object.keys(mod).join(", ") || "none"})`);
    const value: unknown = await (fn as (...a: unknown[]) => unknown)(...msg.args, ctx);
    return { t: "done", id: msg.id, attempt: msg.attempt, ok: true, value: value === undefined ? null : value, out, err, ms: performance.now() - t0 };
  } catch (e) {
    const w = toWire(e);
    err += `${w.stack}\n`;
    return { t: "done", id: msg.id, attempt: msg.attempt, ok: false, error: w, out, err, ms: performance.now() - t0 };
  }
}
