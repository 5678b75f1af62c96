/**
 * How zmpi's ZeroMQ sockets authenticate and what they accept before and after: CURVE on every
 * connection (server and client keys, see keys.ts), a ZAP domain per service (zap.ts decides who is
 * admitted), and limits that bound what an unauthenticated peer can cost.
 *
 * libzmq allocates each inbound frame at the size its header claims, handshake frames included, so
 * its only bound before authentication is the per-frame `maxMessageSize`. zmpi therefore never
 * sends a frame larger than {@link FRAME_BYTES}: a large payload travels as several frames of one
 * multipart message (zero-copy views of the caller's array) and is joined on arrival. A stranger's
 * connection costs at most one such frame, for at most {@link HANDSHAKE_MS}.
 */
import type { CurveKeyPair } from "./keys.js";

/** ZAP domain of a rank's inbox. */
export const RANK_DOMAIN = "zmpi-rank";
/** ZAP domain of the coordinator service. */
export const COORDINATOR_DOMAIN = "zmpi-coordinator";

/**
 * Largest frame zmpi sends (payloads are cut into frames of this size). 256 KiB keeps the cost of
 * a stranger's claim small and the per-frame cost negligible: CURVE encrypts each frame anyway.
 */
const FRAME_BYTES = 256 * 1024;
/** What an inbound frame may claim: a full frame plus CURVE's framing (a 16-byte MAC, nonce, flags). */
const MAX_FRAME_BYTES = FRAME_BYTES + 1024;
/**
 * Time a connection has to complete the ZMTP/CURVE handshake, ZAP included, ms. A rank's inbox
 * holds back peers it does not know yet until the endpoint table arrives, which takes milliseconds
 * after the first peer has it; strangers that never finish are dropped at this deadline.
 */
export const HANDSHAKE_MS = 10_000;

/** Options of a bound (server) socket: CURVE with `keys`, admission by the ZAP handler for `domain`. */
export function serverOptions(keys: CurveKeyPair, domain: string): Record<string, unknown> {
  return {
    curveServer: true,
    curveSecretKey: keys.secretZ85,
    curvePublicKey: keys.publicZ85,
    zapDomain: domain,
    // Without a ZAP handler libzmq would admit every CURVE client: refuse instead.
    zapEnforceDomain: true,
    maxMessageSize: MAX_FRAME_BYTES,
    handshakeInterval: HANDSHAKE_MS,
  };
}

/** Options of a connecting (client) socket: our CURVE keys and the key the server must prove. */
export function clientOptions(mine: CurveKeyPair, serverPublicZ85: string): Record<string, unknown> {
  return {
    curveServerKey: serverPublicZ85,
    curvePublicKey: mine.publicZ85,
    curveSecretKey: mine.secretZ85,
    // Replies (acks, the table, aborts) come in the same way: the same bound on frames.
    maxMessageSize: MAX_FRAME_BYTES,
    handshakeInterval: HANDSHAKE_MS,
  };
}

/** The client side of an authenticated connection: its keys and the server's public key. */
export interface CurveClient {
  keys: CurveKeyPair;
  /** Z85 public key the server must prove it holds the secret half of. */
  serverKey: string;
}

/** `[header, payload]` → `[header, ...pieces of at most FRAME_BYTES]` (views, no copy). */
export function toFrames(frames: (Buffer | Uint8Array)[]): (Buffer | Uint8Array)[] {
  if (frames.every((f) => f.byteLength <= FRAME_BYTES)) return frames;
  const out: (Buffer | Uint8Array)[] = [frames[0]!];
  for (const f of frames.slice(1)) {
    for (let at = 0; at < f.byteLength; at += FRAME_BYTES) out.push(f.subarray(at, Math.min(f.byteLength, at + FRAME_BYTES)));
  }
  return out;
}

/** `[header, ...pieces]` → `[header, payload]`, or null when the pieces do not add up to a message of at most `maxBytes`. */
export function joinFrames(frames: Buffer[], maxBytes: number): Buffer[] | null {
  if (frames.length <= 2) return frames;
  let total = 0;
  for (let i = 1; i < frames.length; i++) {
    // Every piece but the last is full: anything else was not cut by toFrames.
    if (i < frames.length - 1 && frames[i]!.length !== FRAME_BYTES) return null;
    total += frames[i]!.length;
  }
  if (total > maxBytes) return null;
  let payload: Buffer;
  try {
    payload = Buffer.allocUnsafeSlow(total);
  } catch {
    return null; // no memory for it: dropped like any message that cannot be taken
  }
  let at = 0;
  for (let i = 1; i < frames.length; i++) at += frames[i]!.copy(payload, at);
  return [frames[0]!, payload];
}
