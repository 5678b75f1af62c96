// Finalize's barrier is often a job's first collective, so every pair it makes talk must first
// connect (a connection, a handshake, a ring offer: ~2–4 ms of CPU per pair on this VM). It takes
// the binomial tree: p − 1 pairs, where the dissemination barrier of a user's barrier() makes
// p⌈lg p⌉ talk. The ranks still all wait for each other, and a forced algorithm still rules.
import { describe, expect, it } from "vitest";
import type { Engine } from "../../src/comm/engine.js";
import { Op } from "../../src/collectives/op.js";
import { CollectiveMismatchError } from "../../src/errors.js";
import { memoryWorld } from "../../src/testing/memory-world.js";
import type { World } from "../../src/world/world.js";

/** Unordered pairs of ranks that sent each other anything while `body` ran on every world. */
async function pairsDuring(worlds: World[], body: (w: World) => Promise<void>): Promise<Set<string>> {
  const pairs = new Set<string>();
  for (const w of worlds) {
    const t = (w as unknown as { engine: Engine }).engine.transport;
    const send = t.send.bind(t);
    t.send = (dest, env, payload, zeroCopy) => {
      pairs.add([t.rank, dest].sort((a, b) => a - b).join("-"));
      return send(dest, env, payload, zeroCopy);
    };
  }
  await Promise.all(worlds.map(body));
  return pairs;
}

describe("finalize's barrier", () => {
  it.each([2, 5, 10, 32])("makes p − 1 pairs talk at %i ranks (a user's barrier makes more)", async (p) => {
    const finalized = await pairsDuring(memoryWorld(p), (w) => w.finalize());
    expect(finalized.size).toBe(p - 1);
    const barrier = await pairsDuring(memoryWorld(p), async (w) => {
      await w.barrier();
      await w.finalize();
    });
    if (p > 2) expect(barrier.size).toBeGreaterThan(p - 1);
  });

  it.each([0, 1, 4])("fails with a mismatch, not a hang, when rank %i finalizes while the others are in an allreduce", async (who) => {
    const worlds = memoryWorld(6, { timeoutMs: 20_000, logWrite: () => {} });
    const t0 = performance.now();
    const results = await Promise.allSettled(worlds.map((w) => (w.rank === who ? w.finalize() : w.allreduce(Float64Array.of(1), Op.SUM))));
    expect(performance.now() - t0, "took until the deadline").toBeLessThan(10_000);
    for (const r of results) {
      expect(r.status).toBe("rejected");
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(CollectiveMismatchError);
    }
  });

  it.each([7, 32])("lets no rank past before the last one arrives (%i ranks, each rank late in turn)", async (p) => {
    for (const lateRank of [0, 1, p - 1, p >> 1]) {
      const worlds = memoryWorld(p);
      let lateArrived = 0;
      const passed: number[] = [];
      // The barrier is behind a rank once it says goodbye (the step after the barrier).
      for (const w of worlds) {
        const res = (w as unknown as { resources: { goodbye: () => Promise<void> } }).resources;
        const goodbye = res.goodbye.bind(res);
        res.goodbye = () => {
          passed.push(performance.now());
          return goodbye();
        };
      }
      await Promise.all(
        worlds.map(async (w) => {
          if (w.rank === lateRank) {
            await new Promise((r) => setTimeout(r, 50));
            lateArrived = performance.now();
          }
          await w.finalize();
        }),
      );
      expect(passed).toHaveLength(p);
      expect(Math.min(...passed), `rank ${lateRank} late`).toBeGreaterThanOrEqual(lateArrived);
    }
  });
});
