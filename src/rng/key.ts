/**
 * A stream's identity from (seed, key path): SHA-256 of a canonical encoding, so
 * `rng(seed, "state", 3, "walker", 7)` names the same stream on every rank, thread, machine and
 * run, and no two different paths share one (to 2^-128). Only the path matters: not the rank,
 * the rank count, the pool size, the order streams are made in or how often they are drawn from.
 */
import { createHash } from "node:crypto";
import { UsageError } from "../errors.js";
import type { StreamKey } from "./philox.js";

/** One element of a key path: a string, or an integer (number or bigint in the int64 range). */
export type RngKey = string | number | bigint;

/** A seed: an integer (number or bigint in the int64 range) or a string. */
export type RngSeed = RngKey;

const DOMAIN = "zmpi.rng.philox4x32-10.v1";
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function encodeElement(x: RngKey, where: string, parts: Buffer[]): void {
  if (typeof x === "string") {
    const b = Buffer.from(x, "utf8");
    const head = Buffer.alloc(5);
    head[0] = 1;
    head.writeUInt32LE(b.length, 1);
    parts.push(head, b);
    return;
  }
  let v: bigint;
  if (typeof x === "number") {
    if (!Number.isSafeInteger(x)) throw new UsageError(`${where} must be a string or a safe integer, got ${x}`, { op: "rng" });
    v = BigInt(x);
  } else if (typeof x === "bigint") {
    if (x < INT64_MIN || x > INT64_MAX) throw new UsageError(`${where} must fit in 64 signed bits, got ${x}`, { op: "rng" });
    v = x;
  } else {
    throw new UsageError(`${where} must be a string or an integer, got ${typeof x}`, { op: "rng" });
  }
  const b = Buffer.alloc(9);
  b[0] = 2; // numbers and bigints of equal value encode alike: seed 42 ≡ seed 42n ≡ ZMPI_SEED=42
  b.writeBigInt64LE(v, 1);
  parts.push(b);
}

function digest(parts: Buffer[]): StreamKey {
  const d = createHash("sha256").update(Buffer.concat(parts)).digest();
  return { k0: d.readUInt32LE(0), k1: d.readUInt32LE(4), s0: d.readUInt32LE(8), s1: d.readUInt32LE(12) };
}

function keyBytes(k: StreamKey): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(k.k0, 0);
  b.writeUInt32LE(k.k1, 4);
  b.writeUInt32LE(k.s0, 8);
  b.writeUInt32LE(k.s1, 12);
  return b;
}

/** The stream of a seed with an empty path. */
export function rootKey(seed: RngSeed): StreamKey {
  const parts: Buffer[] = [Buffer.from(DOMAIN, "utf8")];
  encodeElement(seed, "the rng seed", parts);
  return digest(parts);
}

/**
 * The child stream of `parent` along `path`, one element at a time, so that a stream's key only
 * depends on where it sits in the tree: `fork("a").fork("b")` is `fork("a", "b")`.
 */
export function childKey(parent: StreamKey, path: readonly RngKey[], first = 0): StreamKey {
  let k = parent;
  for (const [i, x] of path.entries()) {
    const parts: Buffer[] = [Buffer.from(`${DOMAIN}/child`, "utf8"), keyBytes(k)];
    encodeElement(x, `rng key element ${first + i}`, parts);
    k = digest(parts);
  }
  return k;
}

/**
 * The seed from a string (`ZMPI_SEED`): decimal integers (optionally negative) become integers,
 * so `ZMPI_SEED=42` equals `init({ seed: 42 })`; anything else is used as a string.
 */
export function parseSeed(text: string): RngSeed {
  const t = text.trim();
  if (/^-?\d+$/.test(t)) {
    const v = BigInt(t);
    if (v >= INT64_MIN && v <= INT64_MAX) return Number.isSafeInteger(Number(v)) ? Number(v) : v;
  }
  return t;
}

/** Checks a seed or key element without hashing (for early UsageErrors). */
export function checkKey(x: RngKey, where: string): void {
  encodeElement(x, where, []);
}
