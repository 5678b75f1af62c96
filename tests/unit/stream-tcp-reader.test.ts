// The TCP stream reader in one process, over a real loopback connection: messages written before
// the handshake ends reach the inbox partly with the handshake's bytes (read by the accepted
// socket) and partly after (read by the reader that replaces it). Each must come back exactly;
// the reader once took a read into its scratch buffer for the payload's own memory, so a large
// first message came back as garbage (found by the collective-semantics test on pretend nodes).
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { DType } from "../../src/transport/dtype.js";
import { encodeHeader, Kind, type Envelope } from "../../src/transport/frame.js";
import { Refusals } from "../../src/transport/refusals.js";
import { StreamInbox } from "../../src/transport/stream-inbox.js";
import { StreamLink } from "../../src/transport/stream-link.js";
import { nativeRecvNow } from "../../src/transport/tcp-poll.js";

const key = randomBytes(32);
const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

function message(seq: number, n: number): [Buffer, Buffer] {
  const data = new Float64Array(n).map((_, i) => seq * 1e7 + i);
  const env: Envelope = { comm: 0, src: 1, tag: 3, seq, kind: Kind.P2P, dtype: DType.F64, count: n };
  return [encodeHeader(env), Buffer.from(data.buffer)];
}

async function inbox(lend?: (env: Envelope, bytes: number) => Uint8Array | null) {
  const got: Array<{ env: Envelope; payload: Buffer | null }> = [];
  const box = new StreamInbox({
    rank: 0,
    worldSize: 2,
    keyFor: async () => key,
    tableKnown: () => true,
    refusals: new Refusals("rank 0", () => {}),
    handler: (env, payload) => got.push({ env, payload }),
    lend: lend && ((env, bytes) => lend(env, bytes)),
  });
  await box.listenTcp("127.0.0.1");
  cleanup.push(() => box.close());
  const m = /:(\d+)$/.exec(box.tcpEndpoint!)!;
  const link = new StreamLink(
    { host: "127.0.0.1", port: Number(m[1]) },
    1,
    0,
    key,
    () => {},
    () => {
      throw new Error("no fallback in this test");
    },
  );
  cleanup.push(() => link.close());
  return { got, link, box };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("TCP stream reader", () => {
  it("delivers large messages written before the handshake ended, byte for byte", async () => {
    const { got, link, box } = await inbox();
    const sizes = [131_072, 1, 300_000, 8192];
    const sends = sizes.map((n, seq) => link.send(message(seq, n)));
    await Promise.all(sends);
    await until(() => got.length === sizes.length);
    expect(box.malformed).toBe(0);
    for (const [seq, n] of sizes.entries()) {
      const { env, payload } = got[seq]!;
      expect(env.seq).toBe(seq);
      expect(payload!.equals(message(seq, n)[1]), `message ${seq}`).toBe(true);
    }
  });

  it("reads a payload into lent memory, including the first one on the connection", async () => {
    const mem = new Uint8Array(300_000 * 8);
    const { got, link } = await inbox((env, bytes) => (env.seq === 0 && bytes <= mem.byteLength ? mem.subarray(0, bytes) : null));
    await Promise.all([link.send(message(0, 300_000)), link.send(message(1, 100_000))]);
    await until(() => got.length === 2);
    expect(got[0]!.payload!.buffer).toBe(mem.buffer);
    expect(Buffer.from(mem.buffer).equals(message(0, 300_000)[1])).toBe(true);
    expect(got[1]!.payload!.equals(message(1, 100_000)[1])).toBe(true);
  });

  const recvNow = nativeRecvNow();
  if (!recvNow) console.warn("skipped the polling test: the native addon has no recvNow (npm run build:native)");
  it.skipIf(!recvNow)("pollFrom delivers what has arrived with no event-loop turn, small and large, in order", async () => {
    const { got, link, box } = await inbox();
    await link.send(message(0, 1));
    await until(() => got.length === 1);
    expect(box.pollable(1)).toBe(true);
    expect(box.pollFrom(0, recvNow!)).toBe(0); // no connection from rank 0
    for (const [seq, n] of [
      [1, 1],
      [2, 100_000],
      [3, 3],
    ] as const) {
      void link.send(message(seq, n)); // written at once: the link is up
      // Synchronously: no await, so libuv never reads; only polling can deliver it.
      const end = Date.now() + 2000;
      while (got.length === seq && Date.now() < end) box.pollFrom(1, recvNow!);
      expect(got.length, `message ${seq} delivered by polling`).toBe(seq + 1);
      expect(got[seq]!.payload!.equals(message(seq, n)[1])).toBe(true);
    }
  });
});
