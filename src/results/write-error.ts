/**
 * The error every rank gets when rank 0 could not write a results table (a full disk, a file size
 * limit, a missing permission): it names rank 0, the operation, the path and the OS error, and says
 * what became of the rows.
 */
import { ZmpiError, type ErrorContext } from "../errors.js";

/** Rank 0 could not write or publish a results table, a checkpoint, or its manifest. */
export class ResultsWriteError extends ZmpiError {
  /** The output (or checkpoint) that could not be written. */
  readonly path: string;
  /** The operating system's error code, e.g. `ENOSPC` or `EFBIG`, when there was one. */
  readonly code: string | undefined;

  constructor(message: string, ctx: ErrorContext & { path: string; code?: string }) {
    super(message, { ...ctx, ranks: [0] });
    this.path = ctx.path;
    this.code = ctx.code;
  }
}
