// Same-machine single-copy transfers (Linux cross-memory attach) on real processes: the addon is
// built by `npm install`, ranks prove they may read each other, large arrays are copied once, and
// everything still holds with it turned off or across (pretend) nodes.
import { describe, expect, it } from "vitest";
import { singleCopySupport } from "../../src/transport/cma.js";
import { linesOf, runJob } from "../helpers/run.js";

const CHECKS = ["peers", "collectives"];
const P2P = ["posted", "unexpected", "probe-and-bad-out"];

function statsOf(stdout: string, rank: number): { single: number; bytes: number } {
  const line = linesOf(stdout, rank).find((l) => l.startsWith("stats "));
  expect(line, `rank ${rank} printed no stats`).toBeDefined();
  return JSON.parse(line!.slice(6)) as { single: number; bytes: number };
}

describe("single-copy transfers between ranks on one machine", () => {
  it("is available on Linux (the native addon was built by npm install)", () => {
    if (process.platform !== "linux") {
      console.log(`single-copy test runs on Linux only; this is ${process.platform}`);
      return;
    }
    expect(singleCopySupport(), "build it with: npm run build:native").toEqual({ available: true, reason: "" });
  });

  for (const np of [2, 3]) {
    it(`moves large arrays by single copy on ${np} ranks (p2p and collectives)`, async () => {
      const r = await runJob("single-copy.ts", np, { env: { EXPECT_CMA: process.platform === "linux" ? "1" : "0" } });
      expect(r.code, r.stderr).toBe(0);
      for (let rank = 0; rank < np; rank++) {
        const lines = linesOf(r.stdout, rank);
        for (const c of CHECKS) expect(lines, `rank ${rank} missing "ok ${c}"`).toContain(`ok ${c}`);
        if (rank <= 1) for (const c of P2P) expect(lines, `rank ${rank} missing "ok ${c}"`).toContain(`ok ${c}`);
        if (process.platform === "linux") expect(statsOf(r.stdout, rank).single, `rank ${rank} received nothing by single copy`).toBeGreaterThan(0);
      }
    });
  }

  it("works the same with ZMPI_CMA=0 (two copies over ipc) and across nodes (tcp)", async () => {
    const off = await runJob("single-copy.ts", 2, { env: { ZMPI_CMA: "0", EXPECT_CMA: "0" } });
    expect(off.code, off.stderr).toBe(0);
    expect(statsOf(off.stdout, 0).single).toBe(0);
    expect(linesOf(off.stdout, 1)).toContain("ok collectives");
    const nodes = await runJob("single-copy.ts", 2, { nodes: 2, env: { EXPECT_CMA: "0" } });
    expect(nodes.code, nodes.stderr).toBe(0);
    expect(statsOf(nodes.stdout, 1).single).toBe(0);
    expect(linesOf(nodes.stdout, 0)).toContain("ok unexpected");
  });
});
