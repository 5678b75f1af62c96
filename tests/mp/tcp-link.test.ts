// The data path across nodes: an authenticated TCP connection per rank pair (stream-link.ts) by
// default, ZeroMQ with CURVE with ZMPI_TCP_LINK=0. Real processes on two pretend nodes.
import { describe, expect, it } from "vitest";
import { linesOf, runJob } from "../helpers/run.js";

describe("TCP data path across nodes", () => {
  it("carries arrays from 8 B to 16 MiB both ways, in order, over the TCP link", async () => {
    const r = await runJob("tcp-link.ts", 2, { nodes: 2 });
    expect(r.code, r.stderr).toBe(0);
    for (const rank of [0, 1]) {
      expect(linesOf(r.stdout, rank)).toContain("ok exchange");
      expect(linesOf(r.stdout, rank).join("\n")).toMatch(/via tcp-stream tcp:\/\//);
    }
    // A blocking receive polled its TCP connection for a moment (ZMPI_TCP_SPIN_US) and found bytes.
    expect(linesOf(r.stdout, 0).join("\n")).toMatch(/tcp poll hits [1-9]\d*/);
  });

  it("with ZMPI_TCP_SPIN_US=0 no receive polls, and the same traffic arrives intact", async () => {
    const r = await runJob("tcp-link.ts", 2, { nodes: 2, env: { ZMPI_TCP_SPIN_US: "0" } });
    expect(r.code, r.stderr).toBe(0);
    for (const rank of [0, 1]) {
      expect(linesOf(r.stdout, rank)).toContain("ok exchange");
      expect(linesOf(r.stdout, rank)).toContain("tcp poll hits 0");
    }
  });

  it("with ZMPI_TCP_LINK=0 the same traffic goes over ZeroMQ (CURVE)", async () => {
    const r = await runJob("tcp-link.ts", 2, { nodes: 2, env: { ZMPI_TCP_LINK: "0" } });
    expect(r.code, r.stderr).toBe(0);
    for (const rank of [0, 1]) {
      expect(linesOf(r.stdout, rank)).toContain("ok exchange");
      expect(linesOf(r.stdout, rank)).toContain("via zmq ");
    }
  });

  for (const link of ["1", "0"]) {
    it(`ZMPI_TCP_LINK=${link}: the point-to-point suite passes across nodes`, async () => {
      const p2p = await runJob("p2p-suite.ts", 4, { nodes: 2, env: { ZMPI_TCP_LINK: link } });
      expect(p2p.code, p2p.stderr).toBe(0);
    }, 180_000);

    it(`ZMPI_TCP_LINK=${link}: the collective suite passes across nodes`, async () => {
      const coll = await runJob("coll-suite.ts", 4, { nodes: 2, env: { ZMPI_TCP_LINK: link } });
      expect(coll.code, coll.stderr).toBe(0);
      for (const rank of [0, 1, 2, 3]) expect(linesOf(coll.stdout, rank)).toContain("ok finalize");
    }, 180_000);
  }
});

describe("TCP data path: reading into the receive's own array", () => {
  it("reads large arrays straight into posted out arrays, in matching order, and stops when a receive ends mid-message", async () => {
    const r = await runJob("tcp-in-place.ts", 2, { nodes: 2 });
    expect(r.code, r.stderr).toBe(0);
    for (const rank of [0, 1]) {
      const lines = linesOf(r.stdout, rank);
      expect(lines).toContain("ok first messages");
      expect(
        lines.some((l) => /^ok window in place \d+$/.test(l)),
        lines.join("\n"),
      ).toBe(true);
      expect(lines).toContain("ok partial and mismatch");
      expect(lines).toContain("ok taken back");
    }
  }, 120_000);
});
