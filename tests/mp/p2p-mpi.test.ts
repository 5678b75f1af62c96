// MPI point-to-point semantics on real processes through `zmpi launch`, on every transport path:
// the same-machine stream socket with single copy (default), the stream socket with ZeroMQ for large
// arrays (ZMPI_CMA=0), ZeroMQ ipc only (ZMPI_STREAM=0), and tcp between pretend nodes.
import { describe, expect, it } from "vitest";
import { singleCopySupport } from "../../src/index.js";
import type { TransportStats } from "../../src/index.js";
import { linesOf, runJob, type JobResult } from "../helpers/run.js";

const CHECKS = ["bad-input", "proc-null", "issend-ring", "ssend-ordering", "sendrecv-replace", "requests", "free", "values", "finalize"];
const TWO_RANK_CHECKS = ["ssend-waits", "send-timeout"];

function expectAllChecks(r: JobResult, np: number): TransportStats[] {
  expect(r.code, r.stderr).toBe(0);
  const stats: TransportStats[] = [];
  for (let rank = 0; rank < np; rank++) {
    const lines = linesOf(r.stdout, rank);
    for (const c of CHECKS) expect(lines, `rank ${rank} missing "ok ${c}"\n${r.stderr}`).toContain(`ok ${c}`);
    if (np >= 2 && rank <= 1) for (const c of TWO_RANK_CHECKS) expect(lines, `rank ${rank} missing "ok ${c}"`).toContain(`ok ${c}`);
    const s = lines.find((l) => l.startsWith("stats "));
    stats.push(JSON.parse(s!.slice(6)) as TransportStats);
  }
  return stats;
}

describe("MPI point-to-point semantics through zmpi launch", () => {
  for (const np of [1, 2, 3, 5]) {
    it(`passes every check on ${np} rank(s), stream socket and single copy`, async () => {
      const stats = expectAllChecks(await runJob("p2p-mpi.ts", np), np);
      if (np >= 2 && singleCopySupport().available) {
        expect(stats[1]!.singleCopyReceived, "large ssend/sendrecvReplace went by single copy").toBeGreaterThan(0);
      }
    });
  }

  it("passes without single copy (large arrays over ZeroMQ beside the stream socket)", async () => {
    const stats = expectAllChecks(await runJob("p2p-mpi.ts", 3, { env: { ZMPI_CMA: "0" } }), 3);
    expect(stats.every((s) => s.singleCopyReceived === 0)).toBe(true);
  });

  it("passes over ZeroMQ ipc only (ZMPI_STREAM=0)", async () => {
    expectAllChecks(await runJob("p2p-mpi.ts", 3, { env: { ZMPI_STREAM: "0" } }), 3);
  });

  it("passes over tcp between pretend nodes, with and without the stream socket", async () => {
    const a = expectAllChecks(await runJob("p2p-mpi.ts", 4, { nodes: 2 }), 4);
    expect(a[0]!.byPeerKind.remote.messagesReceived, "rank 0 heard from the other node").toBeGreaterThan(0);
    expectAllChecks(await runJob("p2p-mpi.ts", 2, { nodes: 2, env: { ZMPI_STREAM: "0" } }), 2);
  });
});
