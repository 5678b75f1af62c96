// The shared deadline timer (src/comm/deadlines.ts). In a file of its own: no other wait may be
// pending while the timer's calls are counted.
import { expect, it, vi } from "vitest";
import { deadlines } from "../../src/comm/deadlines.js";

it("a deadline beyond setTimeout's range (2^31 ms) neither fires early nor spins the timer", async () => {
  const spy = vi.spyOn(globalThis, "setTimeout");
  let fired = false;
  const d = deadlines.add(3e9, () => (fired = true)); // about 35 days
  const t0 = Date.now();
  await new Promise<void>((r) => {
    const poll = () => (Date.now() - t0 > 80 ? r() : setImmediate(poll));
    poll();
  });
  d.cancel();
  const calls = spy.mock.calls.length;
  spy.mockRestore();
  expect(fired).toBe(false);
  // Before the cap, Node clamped the delay to 1 ms and the timer re-armed itself every millisecond.
  expect(calls).toBeLessThan(3);
});

it("deadlines fire in order, and a cancelled one never", async () => {
  const seen: number[] = [];
  deadlines.add(40, () => seen.push(40));
  const c = deadlines.add(20, () => seen.push(20));
  deadlines.add(10, () => seen.push(10));
  c.cancel();
  await new Promise((r) => setTimeout(r, 120));
  expect(seen).toEqual([10, 40]);
});
