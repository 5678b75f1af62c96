/**
 * The coordinator's TCP port, computed from the job and step ids so that every rank of a step
 * agrees on it without talking to anyone.
 */

import { UsageError } from "../errors.js";

/** Lowest derived port: just above Linux's default ephemeral range (32768–60999), as JAX does. */
export const COORD_PORT_BASE = 61440;

/** Distinct step slots per job; steps `s` and `s + 16` of one job share a port. */
const COORD_PORT_STEPS = 16;

/** Distinct job slots; jobs whose ids differ by a multiple of this share a port range. */
const COORD_PORT_JOBS = 256;

/**
 * FNV-1a, 32 bits, over the UTF-8 bytes of `text`. Used to turn non-numeric ids (a launcher's
 * random hex id, a Slurm het-job id `123+0`, a PMIx namespace) into a number; it is stable across
 * processes and Node versions, unlike anything seeded.
 */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, "utf8")) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function idModulo(id: string, modulus: number): number {
  // BigInt keeps very long numeric ids exact; anything else is hashed first.
  if (/^\d+$/.test(id)) return Number(BigInt(id) % BigInt(modulus));
  return fnv1a32(id) % modulus;
}

/**
 * Derives the coordinator port of a job step:
 *
 * `port = 61440 + (job mod 256) * 16 + (step mod 16)`
 *
 * where `job` and `step` are the ids read as decimal integers, or their FNV-1a 32-bit hash
 * ({@link fnv1a32}) when they are not all digits. Ports stay in 61440–65535, above Linux's
 * default ephemeral range (32768–60999) so no outgoing connection on the node holds them by
 * chance (the JAX convention is `job_id % 4096 + 61440`). Up to 16 concurrent steps of one job
 * never collide, and two jobs only collide when their ids differ by a multiple of 256 and their
 * steps start on the same first node; `ZMPI_COORD_PORT` overrides the result.
 */
export function deriveCoordinatorPort(jobId: string, stepId: string): number {
  return COORD_PORT_BASE + idModulo(jobId, COORD_PORT_JOBS) * COORD_PORT_STEPS + idModulo(stepId, COORD_PORT_STEPS);
}

/**
 * Parses a TCP port from an environment variable: a decimal integer in 1..65535.
 *
 * @throws UsageError naming `varName` and quoting `value` otherwise.
 */
export function parsePort(value: string, varName: string): number {
  const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= 65535)) {
    throw new UsageError(`${varName}="${value}" is not a TCP port (an integer from 1 to 65535)`);
  }
  return n;
}
