/**
 * A ring offer of the same-node channel (shm-channel.ts): where in the offering rank's segment the
 * receiver's ring is, sent as JSON over the pair's authenticated stream socket, and the check of
 * one received before anything is mapped. Its own module to keep the channel's file short.
 */
import { ringBytes } from "./shm-ring.js";

/** A ring offer: where in the offering rank's segment the receiver's ring is. */
export interface Offer {
  fd: number;
  bytes: number;
  offset: number;
  capacity: number;
  token: string;
}

/**
 * Parses and checks an offer of a ring of `capacity` data bytes that lies past the segment's
 * header of `headerBytes`; throws why it is not one.
 */
export function parseOffer(text: string, capacity: number, headerBytes: number): Offer {
  let o: Partial<Offer>;
  try {
    o = JSON.parse(text) as Partial<Offer>;
  } catch {
    throw new Error("the ring offer is not JSON");
  }
  const ok =
    Number.isSafeInteger(o.fd) &&
    o.fd! >= 0 &&
    Number.isSafeInteger(o.bytes) &&
    Number.isSafeInteger(o.offset) &&
    o.capacity === capacity &&
    o.offset! >= headerBytes &&
    o.offset! + ringBytes(capacity) <= o.bytes! &&
    typeof o.token === "string" &&
    /^[0-9a-f]{32}$/.test(o.token);
  if (!ok) throw new Error(`a malformed ring offer (${text.slice(0, 120)})`);
  return o as Offer;
}
