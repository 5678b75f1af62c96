/** Argument parsers shared by the CLI commands. */
import { InvalidArgumentError } from "commander";

/** A positive integer, or commander's usage error quoting the value. */
export function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got "${v}"`);
  return n;
}

/** A positive number, or commander's usage error quoting the value. */
export function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${v}"`);
  return n;
}
