// The TCP poller's loop in one process, with a stand-in for the stream inbox: it polls only
// connections it may read, stops when every wait is done or the budget is spent, and gives up its
// core now and then once it has found nothing for a while (poll-budget.ts). Real sockets:
// tests/unit/stream-tcp-reader.test.ts; real processes on pretend nodes: tests/mp/tcp-link.test.ts.
import { describe, expect, it } from "vitest";
import { YIELD_AFTER_US, YIELD_EVERY_US, yieldCpu } from "../../src/transport/poll-budget.js";
import type { StreamInbox } from "../../src/transport/stream-inbox.js";
import { nativeRecvNow, TcpPoller } from "../../src/transport/tcp-poll.js";

/** An inbox with connections from `ranks`; `arrive(rank)` says whether a poll of it finds bytes now. */
function inbox(ranks: number[], arrive: (rank: number) => boolean) {
  const polled: number[] = [];
  const box = {
    pollable: (r: number) => ranks.includes(r),
    pollFrom: (r: number) => {
      polled.push(r);
      return arrive(r) ? 8 : 0;
    },
  };
  return { box: box as unknown as StreamInbox, polled };
}

const recvNow = () => 0;

describe("TcpPoller", () => {
  it(`finds nothing for ${YIELD_AFTER_US} µs, then gives up its core every ${YIELD_EVERY_US} µs until the budget is spent`, () => {
    const yields: number[] = [];
    const { box } = inbox([1], () => false);
    const poller = new TcpPoller(box, recvNow, 2000, () => yields.push(performance.now() - t0));
    const t0 = performance.now();
    poller.spin([1], () => false);
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(2);
    expect(yields.length).toBeGreaterThanOrEqual(20); // ~200 on an idle machine
    expect(yields[0]!).toBeGreaterThanOrEqual(YIELD_AFTER_US / 1000);
    // At most one per YIELD_EVERY_US of the poll's clock after the first.
    expect(yields.length).toBeLessThanOrEqual(Math.ceil((yields.at(-1)! * 1000 - YIELD_AFTER_US) / YIELD_EVERY_US) + 1);
  });

  it("an answer found sooner ends the poll with no yield; what it found is counted", () => {
    let calls = 0;
    let yields = 0;
    const { box } = inbox([1], () => ++calls === 3);
    const poller = new TcpPoller(box, recvNow, 2000, () => yields++);
    poller.spin([1], () => calls >= 3);
    expect(yields).toBe(0);
    expect(poller.hits).toBe(1);
  });

  it("does not poll at all for a rank it has no readable connection from, for any source, or with a budget of 0", () => {
    const { box, polled } = inbox([1], () => false);
    new TcpPoller(box, recvNow, 2000, () => {}).spin([1, 2], () => false);
    new TcpPoller(box, recvNow, 2000, () => {}).spin([-1], () => false);
    new TcpPoller(box, recvNow, 0, () => {}).spin([1], () => false);
    expect(polled).toEqual([]);
  });

  const addon = nativeRecvNow() !== null;
  if (!addon) console.warn("skipped the native yield test: the native addon is not built (npm run build:native)");
  it.skipIf(!addon)("the addon's yield returns at once when no other task waits for the core", () => {
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) yieldCpu();
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
