/** Errors of the task farm: each names the task, the rank, the attempt and where its log is. */
import { ZmpiError } from "../../errors.js";

/** Where a task failed. */
export interface TaskErrorInfo {
  /** Task name. */
  task: string;
  /** Rank that ran the last attempt (-1 if it never ran). */
  rank: number;
  /** Attempt number of the last attempt (1-based; 0 if it never ran). */
  attempt: number;
  /** The task's stdout / stderr log files. */
  logPath: string;
  errPath: string;
}

/** A task failed on its last attempt (it threw, or its rank died while running it). */
export class TaskError extends ZmpiError {
  /** Task name. */
  readonly task: string;
  /** Rank of the last attempt. */
  readonly rank: number;
  /** Last attempt, 1-based. */
  readonly attempt: number;
  /** Log files. */
  readonly logPath: string;
  readonly errPath: string;

  constructor(message: string, info: TaskErrorInfo) {
    super(message, { op: "farm", ranks: info.rank >= 0 ? [info.rank] : [] });
    this.task = info.task;
    this.rank = info.rank;
    this.attempt = info.attempt;
    this.logPath = info.logPath;
    this.errPath = info.errPath;
  }
}

/** A task never ran because a task it depends on failed. */
export class TaskDependencyError extends TaskError {
  /** The input task that failed. */
  readonly failedInput: string;

  constructor(message: string, info: TaskErrorInfo, failedInput: string) {
    super(message, info);
    this.failedInput = failedInput;
  }
}
