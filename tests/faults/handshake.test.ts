// The authentication pieces on their own, over real sockets: the challenge-response (Unix and TCP,
// since a later bulk TCP path reuses it), the job key, CURVE keys derived in Node that libzmq
// accepts, and the choice of who may read a rank's memory.
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Pull, Push, Router } from "zeromq";
import { deriveJobKey } from "../../src/env/secret.js";
import { acceptHandshake, HandshakeError, openHandshake } from "../../src/transport/auth-handshake.js";
import { derivedKeyPair, pairKey, randomKeyPair, z85Decode, z85Encode } from "../../src/transport/keys.js";
import { chooseReader } from "../../src/transport/ptrace-scope.js";

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A server that runs `onSocket` per connection; resolves with how to connect to it. */
async function serve(kind: "unix" | "tcp", onSocket: (s: Socket) => void): Promise<() => Socket> {
  const srv = createServer(onSocket);
  servers.push(srv);
  if (kind === "unix") {
    const path = join(mkdtempSync(join(tmpdir(), "zmpi-hs-")), "s.sock");
    await new Promise<void>((r) => srv.listen(path, () => r()));
    return () => connect({ path });
  }
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as { port: number }).port;
  return () => connect(port, "127.0.0.1");
}

const KEY = randomBytes(32);

describe("challenge-response", () => {
  for (const kind of ["unix", "tcp"] as const) {
    it(`(${kind}) proves both sides, hands over the bytes that followed, and refuses a wrong key on either side`, async () => {
      const accepted: Array<Promise<{ peer: string; rest: Buffer } | HandshakeError>> = [];
      const dial = await serve(kind, (s) => {
        accepted.push(acceptHandshake(s, { me: "rank 1", keyFor: (p) => (p === "rank 0" ? KEY : null), deadlineMs: 3000 }).catch((e: HandshakeError) => e));
      });
      // The right key: both ends agree, and data written right after the handshake is not lost.
      const c = dial();
      await new Promise((r) => c.once("connect", r));
      await openHandshake(c, { me: "rank 0", peer: "rank 1", keyFor: () => KEY, deadlineMs: 3000 });
      c.write("after");
      const ok = await accepted[0]!;
      expect(ok).not.toBeInstanceOf(Error);
      expect((ok as { peer: string }).peer).toBe("rank 0");
      // A client with the wrong key: the server refuses it (bad proof); the client learns the server is not its peer.
      const w = dial();
      await new Promise((r) => w.once("connect", r));
      const clientSide = await openHandshake(w, { me: "rank 0", peer: "rank 1", keyFor: () => randomBytes(32), deadlineMs: 3000 }).catch((e: HandshakeError) => e);
      expect(clientSide).toBeInstanceOf(HandshakeError);
      expect((clientSide as HandshakeError).reason).toBe("bad-proof");
      // Unknown identities and the wrong peer name are refused.
      const u = dial();
      await new Promise((r) => u.once("connect", r));
      expect(((await openHandshake(u, { me: "rank 7", peer: "rank 1", keyFor: () => KEY, deadlineMs: 3000 }).catch((e: HandshakeError) => e)) as HandshakeError).reason).toBe(
        "closed",
      );
      expect(((await accepted[2]!) as HandshakeError).reason).toBe("unknown-peer");
      const n = dial();
      await new Promise((r) => n.once("connect", r));
      expect(((await openHandshake(n, { me: "rank 0", peer: "rank 2", keyFor: () => KEY, deadlineMs: 3000 }).catch((e: HandshakeError) => e)) as HandshakeError).reason).toBe(
        "wrong-peer",
      );
    });
  }

  it("a squatter that records a whole exchange cannot replay it: each side's fresh nonce makes the other's proof single-use", async () => {
    // Record a real exchange, client side.
    const seen: Buffer[] = [];
    const dial = await serve("unix", (s) => {
      s.on("data", (d) => seen.push(Buffer.from(d)));
      void acceptHandshake(s, { me: "rank 1", keyFor: () => KEY, deadlineMs: 3000 }).catch(() => {});
    });
    const c = dial();
    await new Promise((r) => c.once("connect", r));
    await openHandshake(c, { me: "rank 0", peer: "rank 1", keyFor: () => KEY, deadlineMs: 3000 });
    await new Promise((r) => setTimeout(r, 100));
    const recorded = Buffer.concat(seen);
    // Replay the client's bytes to a fresh server with the same key: refused.
    const results: Array<Promise<unknown>> = [];
    const dial2 = await serve("unix", (s) => results.push(acceptHandshake(s, { me: "rank 1", keyFor: () => KEY, deadlineMs: 2000 }).catch((e: HandshakeError) => e)));
    const r = dial2();
    r.on("error", () => {});
    await new Promise((res) => r.once("connect", res));
    r.write(recorded);
    const out = await results[0]!;
    expect(out).toBeInstanceOf(HandshakeError);
    expect(recorded.toString("latin1")).not.toContain(KEY.toString("latin1"));
  });

  it("a peer that says nothing is dropped at the deadline; one that talks past the handshake is refused", async () => {
    const results: Array<Promise<unknown>> = [];
    const dial = await serve("tcp", (s) => results.push(acceptHandshake(s, { me: "x", keyFor: () => KEY, deadlineMs: 300 }).catch((e: HandshakeError) => e)));
    const quiet = dial();
    quiet.on("error", () => {});
    const t0 = Date.now();
    await new Promise((r) => quiet.once("close", r));
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(((await results[0]!) as HandshakeError).reason).toBe("timeout");
    const loud = dial();
    loud.on("error", () => {});
    loud.on("connect", () => loud.write(Buffer.concat([Buffer.from("ZMPA"), Buffer.from([1, 1]), Buffer.from("y"), randomBytes(32), randomBytes(100)])));
    loud.resume();
    await new Promise((r) => loud.once("close", r));
    expect(((await results[1]!) as HandshakeError).reason).toBe("protocol");
  });
});

describe("keys", () => {
  it("the job key depends on the secret and the job step, and never equals or contains the secret", () => {
    const s = "0123456789abcdef0123456789abcdef";
    const k = deriveJobKey(s, "42.0");
    expect(k).toHaveLength(32);
    expect(deriveJobKey(s, "42.0").equals(k)).toBe(true);
    expect(deriveJobKey(s, "42.1").equals(k)).toBe(false);
    expect(deriveJobKey(`${s}x`, "42.0").equals(k)).toBe(false);
    expect(k.toString("latin1")).not.toContain(s);
    expect(() => deriveJobKey("", "42.0")).toThrow(/needs a secret/);
  });

  it("Z85 round-trips (RFC 32 vector); pair keys agree from both sides and differ per pair and per job", () => {
    expect(z85Encode(Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]))).toBe("HelloWorld");
    const b = randomBytes(32);
    expect(z85Decode(z85Encode(b))!.equals(b)).toBe(true);
    expect(z85Decode("not z85!")).toBeNull();
    const [a, c, d] = [randomKeyPair(), randomKeyPair(), randomKeyPair()];
    const job = randomBytes(32);
    expect(pairKey(a, c.publicKey, job, "s").equals(pairKey(c, a.publicKey, job, "s"))).toBe(true);
    expect(pairKey(a, c.publicKey, job, "s").equals(pairKey(a, d.publicKey, job, "s"))).toBe(false);
    expect(pairKey(a, c.publicKey, job, "s").equals(pairKey(a, c.publicKey, randomBytes(32), "s"))).toBe(false);
  });

  it("keypairs derived in Node are keypairs to libzmq: a CURVE client and server built from them connect, and a wrong server key does not", async () => {
    const zap = new Router({ linger: 0 });
    await zap.bind("inproc://zeromq.zap.01");
    void (async () => {
      for await (const f of zap) await zap.send([f[0]!, f[1]!, f[2]!, f[3]!, "200", "OK", "", ""]).catch(() => {});
    })();
    const server = derivedKeyPair(randomBytes(32), "server");
    const client = derivedKeyPair(randomBytes(32), "client");
    const pull = new Pull({ curveServer: true, curveSecretKey: server.secretZ85, zapDomain: "t", linger: 0 });
    await pull.bind("tcp://127.0.0.1:*");
    const good = new Push({ curveServerKey: server.publicZ85, curvePublicKey: client.publicZ85, curveSecretKey: client.secretZ85, linger: 0 });
    good.connect(pull.lastEndpoint!);
    await good.send("hi");
    expect((await pull.receive())[0]!.toString()).toBe("hi");
    const bad = new Push({ curveServerKey: derivedKeyPair(randomBytes(32), "x").publicZ85, curvePublicKey: client.publicZ85, curveSecretKey: client.secretZ85, linger: 0 });
    let handshook = false;
    bad.events.on("handshake", () => (handshook = true));
    bad.connect(pull.lastEndpoint!);
    await new Promise((r) => setTimeout(r, 500));
    expect(handshook).toBe(false);
    for (const s of [good, bad, pull, zap]) s.close();
  });
});

describe("who may read a rank's memory", () => {
  const tree: Record<number, number> = { 100: 10, 101: 10, 102: 10, 200: 20, 201: 21, 20: 5, 21: 5, 10: 1, 5: 2 };
  const parent = (pid: number) => (pid === process.pid ? 10 : (tree[pid] ?? null));
  it("the launcher when every peer is its child, else the one peer, else a common grandparent, never init", () => {
    expect(chooseReader([100, 101], parent)).toEqual({ pid: 10, why: "parent" });
    expect(chooseReader([200], parent)).toEqual({ pid: 200, why: "peer" });
    expect(chooseReader([200, 201], parent)).toBeNull(); // grandparent of ours is 1 (init): refused
    expect(chooseReader([], parent)).toBeNull();
    const viaShell = (pid: number) => (pid === process.pid ? 30 : pid === 30 ? 5 : (tree[pid] ?? null));
    expect(chooseReader([200, 201], viaShell)).toEqual({ pid: 5, why: "grandparent" });
  });
});
