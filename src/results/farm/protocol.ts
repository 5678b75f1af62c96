/**
 * Farm messages, on the farm's own communicator (a `dup()` of the world, so they never meet user
 * messages). Workers pull: "ready" (or a result, which implies ready) → a task or "stop".
 */

/** Master → worker. */
export const TAG_TO_WORKER = 1;
/** Worker → master. */
export const TAG_TO_MASTER = 2;

/** A task to run. */
export interface TaskMsg {
  t: "task";
  id: number;
  name: string;
  url: string;
  exp: string;
  args: unknown[];
  /** Results of the `after` tasks, in order. */
  inputs: unknown[];
  attempt: number;
}

/** No more tasks: leave the loop. */
interface StopMsg {
  t: "stop";
}

/** A worker asks for work (first message). */
interface ReadyMsg {
  t: "ready";
}

/** An error as it travels. */
export interface WireError {
  name: string;
  message: string;
  stack: string;
}

/** One attempt's outcome; also asks for the next task. */
export interface DoneMsg {
  t: "done";
  id: number;
  attempt: number;
  ok: boolean;
  value?: unknown;
  error?: WireError;
  /** What the task logged through its context. */
  out: string;
  err: string;
  ms: number;
}

/** What the master receives ("stop" only from itself, to end its own receive loop). */
export type ToMaster = ReadyMsg | DoneMsg | StopMsg;
/** What a worker receives. */
export type ToWorker = TaskMsg | StopMsg;
