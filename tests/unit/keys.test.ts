// Key material (src/transport/keys.ts): derived job keys are computed once per job key, random
// keypairs hold matching halves, and the pair key two ranks derive is the same from both sides and
// from no one else's keys.
import { createPrivateKey, createPublicKey, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { derivedKeyPair, jobKeys, pairKey, randomKeyPair, z85Decode, type CurveKeyPair } from "../../src/transport/keys.js";

/** The public half of a raw X25519 secret, computed by OpenSSL from scratch. */
function publicOf(secret: Buffer): Buffer {
  const priv = createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), secret]), format: "der", type: "pkcs8" });
  return Buffer.from(createPublicKey(priv).export({ format: "jwk" }).x!, "base64url");
}

function consistent(k: CurveKeyPair): void {
  expect(k.publicKey).toHaveLength(32);
  expect(k.secretKey).toHaveLength(32);
  expect(publicOf(k.secretKey).equals(k.publicKey)).toBe(true);
  expect(z85Decode(k.publicZ85)!.equals(k.publicKey)).toBe(true);
  expect(z85Decode(k.secretZ85)!.equals(k.secretKey)).toBe(true);
}

describe("keys", () => {
  it("derive a job's keys once per job key: the same keys for an equal key in another buffer, others for another key", () => {
    const key = randomBytes(32);
    const a = jobKeys(key);
    expect(jobKeys(Buffer.from(key))).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(a.member.publicKey.equals(derivedKeyPair(key, "member").publicKey)).toBe(true);
    expect(a.coordinatorServer.publicKey.equals(derivedKeyPair(key, "coordinator server").publicKey)).toBe(true);
    expect(a.coordinatorClient.publicKey.equals(derivedKeyPair(key, "coordinator client").publicKey)).toBe(true);
    for (const k of [a.member, a.coordinatorServer, a.coordinatorClient]) consistent(k);
    const other = jobKeys(randomBytes(32));
    expect(other).not.toBe(a);
    expect(other.member.publicKey.equals(a.member.publicKey)).toBe(false);
    // Many job keys in one process (tests): each still right after older ones were dropped.
    const keys = Array.from({ length: 12 }, () => randomBytes(32));
    for (const k of keys) jobKeys(k);
    for (const k of keys) expect(jobKeys(k).member.publicKey.equals(derivedKeyPair(k, "member").publicKey)).toBe(true);
  });

  it("draw random keypairs whose halves match, and different ones each time", () => {
    const ks = Array.from({ length: 5 }, () => randomKeyPair());
    for (const k of ks) consistent(k);
    expect(new Set(ks.map((k) => k.publicZ85)).size).toBe(5);
  });

  it("give two ranks the same pair key from both sides, bound to the job key and the pair", () => {
    const job = randomBytes(32);
    const [a, b, c] = [randomKeyPair(), randomKeyPair(), randomKeyPair()];
    const ab = pairKey(a, b.publicKey, job, "zmpi stream");
    expect(ab).toHaveLength(32);
    // Repeated (the rank's parsed private key is reused) and from the other side: the same.
    expect(pairKey(a, b.publicKey, job, "zmpi stream").equals(ab)).toBe(true);
    expect(pairKey(b, a.publicKey, job, "zmpi stream").equals(ab)).toBe(true);
    expect(pairKey(a, c.publicKey, job, "zmpi stream").equals(ab)).toBe(false);
    expect(pairKey(c, b.publicKey, job, "zmpi stream").equals(ab)).toBe(false);
    expect(pairKey(a, b.publicKey, randomBytes(32), "zmpi stream").equals(ab)).toBe(false);
    expect(pairKey(a, b.publicKey, job, "other").equals(ab)).toBe(false);
    expect(() => pairKey(a, Buffer.alloc(31), job, "zmpi stream")).toThrow(RangeError);
  });
});
