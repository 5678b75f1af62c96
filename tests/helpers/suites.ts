/**
 * The point-to-point and collective suites as one check, for tests that turn a transport path off
 * (ZMPI_STREAM=0, ZMPI_SHM=0) and must show that what is left still carries everything.
 */
import { expect } from "vitest";
import { linesOf, runJob } from "./run.js";

/** Runs p2p-suite.ts and coll-suite.ts on 3 real ranks with `env`; both must finish on every rank. */
export async function expectSuitesPass(env: Record<string, string>): Promise<void> {
  const p2p = await runJob("p2p-suite.ts", 3, { env });
  expect(p2p.code, p2p.stderr).toBe(0);
  expect(linesOf(p2p.stdout, 2)).toContain("ok finalize");
  const coll = await runJob("coll-suite.ts", 3, { env });
  expect(coll.code, coll.stderr).toBe(0);
  for (const rank of [0, 1, 2]) expect(linesOf(coll.stdout, rank)).toContain("ok finalize");
}
