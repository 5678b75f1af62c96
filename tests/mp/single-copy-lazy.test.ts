// With more same-machine peers than EAGER_SINGLE_COPY_PEERS, single copy is settled per pair when
// the pair first talks (start-up stays linear in ranks), and still carries the pair's later arrays.
import { describe, expect, it } from "vitest";
import { EAGER_SINGLE_COPY_PEERS } from "../../src/transport/single-copy-peers.js";
import { singleCopySupport } from "../../src/transport/cma.js";
import { linesOf, runJob } from "../helpers/run.js";

const why = process.platform !== "linux" ? `single copy is Linux-only; this is ${process.platform}` : singleCopySupport().available ? null : singleCopySupport().reason;

describe.skipIf(why !== null)("single copy on first contact", () => {
  it(`a ring of ${EAGER_SINGLE_COPY_PEERS + 3} ranks: only ranks that talked become single-copy peers, and the second lap goes by single copy`, async () => {
    const np = EAGER_SINGLE_COPY_PEERS + 3;
    const r = await runJob("single-copy-lazy.ts", np);
    expect(r.code, r.stderr).toBe(0);
    for (let rank = 0; rank < np; rank++) {
      const lines = linesOf(r.stdout, rank);
      const peers = Number(lines.find((l) => l.startsWith("peers "))?.split(" ")[1]);
      // Eagerly every other rank (np - 1). On first contact: the ring's two neighbours, and those a
      // faster rank's finalize barrier already reached (dissemination: a few more).
      expect(peers, `rank ${rank}'s single-copy peers\n${r.stdout}`).toBeLessThan(np - 1);
      const stats = JSON.parse(lines.find((l) => l.startsWith("stats "))!.slice(6)) as { single: number };
      expect(stats.single, `rank ${rank} received nothing by single copy`).toBeGreaterThan(0);
    }
  }, 180_000);
});
if (why !== null) console.log(`single copy on first contact: skipped (${why})`);
