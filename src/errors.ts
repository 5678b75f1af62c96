/**
 * Error types shared by every layer. Each names what a user needs to act on: the communicator,
 * the operation and the rank(s) involved.
 */

/** Where an error happened: which communicator, which operation, which ranks. */
export interface ErrorContext {
  /** Communicator name, e.g. `"world"` or `"world.split(1)"`. */
  comm?: string;
  /** Operation, e.g. `"recv"`, `"allreduce"`, `"rendezvous"`. */
  op?: string;
  /** Ranks the error concerns (dead, missing, mismatched), in the communicator's numbering. */
  ranks?: number[];
}

function describe(message: string, ctx: ErrorContext): string {
  const parts: string[] = [];
  if (ctx.op) parts.push(ctx.op);
  if (ctx.comm) parts.push(`on ${ctx.comm}`);
  const where = parts.length ? `${parts.join(" ")}: ` : "";
  return `${where}${message}`;
}

/** Base class of every error zmpi throws on purpose. */
export class ZmpiError extends Error {
  /** Communicator name, if the error concerns one. */
  readonly comm: string | undefined;
  /** Operation that failed. */
  readonly op: string | undefined;
  /** Ranks concerned. */
  readonly ranks: number[];
  /** The message without the "op on comm:" prefix. */
  readonly detail: string;

  constructor(message: string, ctx: ErrorContext = {}) {
    super(describe(message, ctx));
    this.detail = message;
    this.name = new.target.name;
    this.comm = ctx.comm;
    this.op = ctx.op;
    this.ranks = ctx.ranks ?? [];
  }
}

/** Bad input from the caller: wrong rank, wrong size, wrong dtype, malformed env or hostlist. */
export class UsageError extends ZmpiError {}

/** A wait passed its deadline. */
export class TimeoutError extends ZmpiError {}

/** A rank died or aborted; pending operations on every other rank reject with this. */
export class RankFailedError extends ZmpiError {}

/** Ranks called different collectives (or the same one with different arguments). */
export class CollectiveMismatchError extends ZmpiError {}

/** Ranks could not find each other: missing ranks, duplicate ranks, size or job mismatch, port taken. */
export class RendezvousError extends ZmpiError {}
