// Eager arrays from 32 KiB on one machine go by single copy out of the transport's private copy
// (the one-node cliff of issue 12): correct data whatever the sender does after its send, receipts
// that only free the copy, and the bytes counted as single copy. The default eager limit is 16 KiB
// (eager-limit.test.ts); a user who raises it to 64 KiB gets this path.
import { describe, expect, it } from "vitest";
import { singleCopySupport } from "../../src/transport/cma.js";
import { linesOf, runJob } from "../helpers/run.js";

describe.skipIf(!singleCopySupport().available)("eager arrays by single copy on one machine", () => {
  it("48 KB arrays overwritten right after send arrive as sent, by single copy", async () => {
    const r = await runJob("eager-single-copy.ts", 2, { env: { ZMPI_EAGER_LIMIT: "65536" } });
    expect(r.code, r.stderr).toBe(0);
    const line = linesOf(r.stdout, 1).find((l) => l.startsWith("single-copy "));
    expect(line, r.stdout).toBeDefined();
    const [count, bytes] = line!.split(" ").slice(1).map(Number);
    expect(count).toBe(51);
    expect(bytes).toBe(50 * 48_000 + 65_536);
    for (const rank of [0, 1]) expect(linesOf(r.stdout, rank)).toContain("ok eager");
  });

  it("with ZMPI_CMA=0 the same arrays go over the socket, intact", async () => {
    const r = await runJob("eager-single-copy.ts", 2, { env: { ZMPI_CMA: "0", ZMPI_EAGER_LIMIT: "65536" } });
    expect(r.code, r.stderr).toBe(0);
    expect(linesOf(r.stdout, 1)).toContain("single-copy 0 0");
  });
});
