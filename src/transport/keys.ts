/**
 * Key material for authenticating connections. Two kinds of keys exist:
 *
 * - Keys *derived* from the job key (src/env/secret.ts): every process that holds the job key can
 *   compute them, and no one else can. They open the coordinator (its CURVE server key, and the
 *   client key ranks present to it) and let ranks admit the coordinator's connections.
 * - A keypair each rank *draws at random* when it starts. Its public half reaches the other ranks
 *   only inside the coordinator's endpoint table, which travels encrypted; so after rendezvous a
 *   rank's ZeroMQ inbox admits exactly the job's ranks, and two ranks on one machine derive a key
 *   only they share (X25519) for their Unix-socket challenge-response.
 *
 * CURVE keys are X25519 keys, written in Z85 (ZeroMQ RFC 32) for zeromq's socket options.
 */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, type KeyObject } from "node:crypto";

/** An X25519 keypair: raw 32-byte halves, and the Z85 text zeromq takes. */
export interface CurveKeyPair {
  publicKey: Buffer;
  secretKey: Buffer;
  /** Z85 (40 characters) of {@link publicKey}. */
  publicZ85: string;
  /** Z85 (40 characters) of {@link secretKey}. */
  secretZ85: string;
}

const Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
/** DER prefix of a PKCS#8 X25519 private key (RFC 8410); the raw 32-byte key follows it. */
const PKCS8_X25519 = Buffer.from("302e020100300506032b656e04220420", "hex");

/** Z85-encodes bytes whose length is a multiple of 4. */
export function z85Encode(data: Uint8Array): string {
  if (data.length % 4 !== 0) throw new RangeError(`z85 needs a multiple of 4 bytes, got ${data.length}`);
  let out = "";
  for (let i = 0; i < data.length; i += 4) {
    let v = ((data[i]! << 24) >>> 0) + (data[i + 1]! << 16) + (data[i + 2]! << 8) + data[i + 3]!;
    const chunk: string[] = [];
    for (let j = 0; j < 5; j++) {
      chunk.push(Z85[v % 85]!);
      v = Math.floor(v / 85);
    }
    out += chunk.reverse().join("");
  }
  return out;
}

/** Decodes Z85 text (a multiple of 5 characters); null for anything that is not Z85. */
export function z85Decode(text: string): Buffer | null {
  if (text.length % 5 !== 0) return null;
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0, o = 0; i < text.length; i += 5, o += 4) {
    let v = 0;
    for (let j = 0; j < 5; j++) {
      const d = Z85.indexOf(text[i + j]!);
      if (d < 0) return null;
      v = v * 85 + d;
    }
    if (v > 0xffffffff) return null;
    out.writeUInt32BE(v, o);
  }
  return out;
}

/** The three keypairs every holder of a job key derives (see the module comment). */
export interface JobKeys {
  /** The coordinator service's server keypair: ranks know its public half without being told. */
  coordinatorServer: CurveKeyPair;
  /** What ranks present to the coordinator. */
  member: CurveKeyPair;
  /** What the coordinator presents to ranks' inboxes. */
  coordinatorClient: CurveKeyPair;
}

/**
 * Job keys already derived, by job key (hex): a rank asks twice (its inbox, its rendezvous
 * client), the coordinator's rank three times, at ~3 ms of CPU a derivation (three X25519
 * keypairs; this 2-core VM). A process holds one job key, tests a few: the oldest entry goes first.
 */
const derived = new Map<string, JobKeys>();
const DERIVED_MAX = 8;

/** Derives {@link JobKeys} from a job key (the same frozen object for the same key). */
export function jobKeys(jobKey: Uint8Array): JobKeys {
  const id = Buffer.from(jobKey.buffer, jobKey.byteOffset, jobKey.byteLength).toString("hex");
  let keys = derived.get(id);
  if (!keys) {
    keys = Object.freeze({
      coordinatorServer: derivedKeyPair(jobKey, "coordinator server"),
      member: derivedKeyPair(jobKey, "member"),
      coordinatorClient: derivedKeyPair(jobKey, "coordinator client"),
    });
    if (derived.size >= DERIVED_MAX) derived.delete(derived.keys().next().value!);
    derived.set(id, keys);
  }
  return keys;
}

/** HKDF-SHA256 of `ikm` with a fixed salt and a label: `length` bytes. */
export function hkdf(ikm: Uint8Array, salt: string | Uint8Array, label: string, length = 32): Buffer {
  return Buffer.from(hkdfSync("sha256", ikm, salt, label, length));
}

/**
 * Parsed private keys, by their raw bytes: parsing one costs ~0.6 ms (it derives the public half),
 * half of a pair key, and a rank's own key takes part in the pair key of every peer it talks to.
 */
const privateKeys = new WeakMap<Buffer, KeyObject>();

function privateKeyObject(secret: Buffer): KeyObject {
  let key = privateKeys.get(secret);
  if (!key) {
    key = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, secret]), format: "der", type: "pkcs8" });
    privateKeys.set(secret, key);
  }
  return key;
}

function publicKeyObject(pub: Buffer): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv: "X25519", x: pub.toString("base64url") }, format: "jwk" });
}

function fromSecret(secret: Buffer): CurveKeyPair {
  const jwk = createPublicKey(privateKeyObject(secret)).export({ format: "jwk" });
  const publicKey = Buffer.from(jwk.x!, "base64url");
  return { publicKey, secretKey: secret, publicZ85: z85Encode(publicKey), secretZ85: z85Encode(secret) };
}

/** The keypair derived from `key` under `label`: the same on every process that holds `key`. */
export function derivedKeyPair(key: Uint8Array, label: string): CurveKeyPair {
  return fromSecret(hkdf(key, "zmpi/curve/v1", label));
}

/** A fresh random keypair. */
export function randomKeyPair(): CurveKeyPair {
  const { privateKey } = generateKeyPairSync("x25519");
  // The private JWK holds both halves: no second parse to find the public one.
  const jwk = privateKey.export({ format: "jwk" });
  const secretKey = Buffer.from(jwk.d!, "base64url");
  const publicKey = Buffer.from(jwk.x!, "base64url");
  privateKeys.set(secretKey, privateKey);
  return { publicKey, secretKey, publicZ85: z85Encode(publicKey), secretZ85: z85Encode(secretKey) };
}

/**
 * The key two ranks share: X25519 of one's secret key and the other's public key (the same from
 * both sides), bound to the job key and to the pair, so it is good for nothing else.
 */
export function pairKey(mine: CurveKeyPair, theirPublic: Buffer, jobKey: Uint8Array, label: string): Buffer {
  if (theirPublic.length !== 32) throw new RangeError(`an X25519 public key has 32 bytes, got ${theirPublic.length}`);
  const shared = diffieHellman({ privateKey: privateKeyObject(mine.secretKey), publicKey: publicKeyObject(theirPublic) });
  const [a, b] = Buffer.compare(mine.publicKey, theirPublic) <= 0 ? [mine.publicKey, theirPublic] : [theirPublic, mine.publicKey];
  return hkdf(shared, jobKey, `${label}|${a.toString("hex")}|${b.toString("hex")}`);
}
