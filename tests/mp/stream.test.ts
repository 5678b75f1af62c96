// The same-machine stream channel (a Unix socket per rank pair, instead of ZeroMQ ipc): falls back
// to ZeroMQ when a peer's socket cannot be reached, and the ZeroMQ ipc path still passes the
// suites when the channel is turned off.
import { describe, expect, it } from "vitest";
import { linesOf, runJob } from "../helpers/run.js";
import { expectSuitesPass } from "../helpers/suites.js";

describe("same-machine stream channel", () => {
  it("falls back to ZeroMQ, in order, when a peer's socket cannot be reached", async () => {
    // No single copy and no shared-memory rings: their readiness receipts and ring offers would
    // open the links during init, before rank 1 removes its socket.
    const r = await runJob("stream-fallback.ts", 3, { env: { ZMPI_CMA: "0", ZMPI_SHM: "0" } });
    expect(r.code, r.stderr).toBe(0);
    expect(linesOf(r.stdout, 0)).toContain("ok fallback-used");
    expect(linesOf(r.stdout, 1)).toContain("ok in-order");
    for (const rank of [0, 1, 2]) expect(linesOf(r.stdout, rank)).toContain("ok after");
  });

  it("without single copy, small and large arrays alike go over the socket and arrive in send order", async () => {
    const r = await runJob("p2p-suite.ts", 3, { env: { ZMPI_CMA: "0" } });
    expect(r.code, r.stderr).toBe(0);
    for (const rank of [1, 2]) expect(linesOf(r.stdout, rank)).toContain("ok ordering-mixed");
    expect(linesOf(r.stdout, 2)).toContain("ok finalize");
  });

  it("with ZMPI_STREAM=0 everything goes over ZeroMQ ipc: point-to-point and collective suites pass", async () => {
    await expectSuitesPass({ ZMPI_STREAM: "0" });
  });
});
