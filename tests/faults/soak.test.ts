// A 10 000-collective soak: nothing a run keeps per message may grow (held messages, counters,
// refusal records, pending receipts). What a rank keeps (live JS heap plus memory outside V8's heap)
// after the run against after a warm-up, every rank; plain RSS is reported too (see soak.mjs).
import { describe, expect, it } from "vitest";
import { linesOf, runJob } from "../helpers/run.js";

describe("soak", () => {
  it("10 000 collectives on 3 ranks: what each rank keeps grows less than 10 %", async () => {
    const r = await runJob("soak.mjs", 3, { timeoutSec: 240 });
    expect(r.code, r.stderr).toBe(0);
    const rows = [0, 1, 2].map((rank) => {
      const l = linesOf(r.stdout, rank).find((x) => x.startsWith("soak "));
      expect(l, `rank ${rank}: ${r.stderr}`).toBeDefined();
      type Mem = { rss: number; v8: number; live: number; outside: number; kept: number };
      return JSON.parse(l!.slice(5)) as { ops: number; ms: number; before: Mem; after: Mem; growth: number };
    });
    for (const row of rows) expect(row.growth).toBeLessThan(0.1);
    const MiB = 1024 * 1024;
    console.log(
      `soak: ${rows[0]!.ops} collectives (barrier, allreduce, bcast, allgather) in ${(rows[0]!.ms / 1000).toFixed(1)} s; ` +
        rows
          .map(
            (x, i) =>
              `rank ${i} ${(x.before.kept / MiB).toFixed(1)}→${(x.after.kept / MiB).toFixed(1)} MiB kept (${(x.growth * 100).toFixed(1)} %; RSS ${(x.before.rss / MiB).toFixed(0)}→${(x.after.rss / MiB).toFixed(0)} MiB, V8's committed heap ${(x.before.v8 / MiB).toFixed(0)}→${(x.after.v8 / MiB).toFixed(0)} MiB)`,
          )
          .join(", "),
    );
  }, 300_000);
});
