// The default eager limit (16 KiB) and ZMPI_EAGER_LIMIT, from a user's side: which sends resolve
// while the receiver is busy, on one machine and across pretend nodes; and two ranks that both send
// a large array before receiving complete.
import { describe, expect, it } from "vitest";
import { linesOf, runJob } from "../helpers/run.js";

function figures(stdout: string): { limit: number; eagerMs: number; largeMs: number } {
  const lines = linesOf(stdout, 0);
  const num = (key: string) => Number(lines.find((l) => l.startsWith(`${key} `))?.split(" ")[1]);
  return { limit: num("limit"), eagerMs: num("eager-ms"), largeMs: num("large-ms") };
}

/**
 * Runs the fixture on 2 ranks and checks rank 0's two sends: the eager one resolves while the
 * receiver is busy (400 ms); the large one waits for it (`largeWaits`) or does not.
 */
async function expectSends(opts: Parameters<typeof runJob>[2], limit: number, largeWaits: boolean): Promise<void> {
  const r = await runJob("eager-limit.ts", 2, opts);
  expect(r.code, r.stderr).toBe(0);
  for (const rank of [0, 1]) expect(linesOf(r.stdout, rank), r.stdout).toContain("ok eager-limit");
  const f = figures(r.stdout);
  expect(f.limit).toBe(limit);
  expect(f.eagerMs, r.stdout).toBeLessThan(200);
  if (largeWaits) expect(f.largeMs, r.stdout).toBeGreaterThanOrEqual(250);
  else expect(f.largeMs, r.stdout).toBeLessThan(200);
}

describe("the eager limit", () => {
  it("on one machine: 16 KiB resolves while the receiver is busy, 16 KiB + 8 waits for it", () => expectSends({}, 16384, true));

  it("ZMPI_EAGER_LIMIT=32768 moves the line: 32 KiB resolves at once, 32 KiB + 8 waits", () =>
    expectSends({ env: { ZMPI_EAGER_LIMIT: "32768", EXPECT_LIMIT: "32768" } }, 32768, true));

  it("without single copy (ZMPI_CMA=0) a large send resolves once the socket has the bytes, as across nodes", () => expectSends({ env: { ZMPI_CMA: "0" } }, 16384, false));

  it("across pretend nodes a large send resolves once the kernel has the bytes, receiver busy or not", () => expectSends({ nodes: 2 }, 16384, false));

  it("a malformed ZMPI_EAGER_LIMIT stops every rank before anything is sent, naming the variable", async () => {
    const r = await runJob("eager-limit.ts", 2, { env: { ZMPI_EAGER_LIMIT: "16k" } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("ZMPI_EAGER_LIMIT");
  });
});
