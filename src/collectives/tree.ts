/**
 * Latency-bound algorithms: dissemination and binomial-tree barriers, binomial bcast and reduce, recursive-doubling
 * allreduce and scan. They move whole values, so they serve typed arrays and plain values alike.
 */
import { payloadOf, readPayloadInto } from "../comm/matching.js";
import type { Encoded } from "../comm/payload.js";
import { CMA_MIN_BYTES } from "../transport/cma.js";
import { bytesOf, dtypeOf, isTypedArray, type TypedArray } from "../transport/dtype.js";
import type { Coll } from "./coll.js";
import { copyValue } from "./values.js";
import type { Op } from "./op.js";

const EMPTY = new Uint8Array(0);

/** Dissemination barrier (Hensgen, Finkel & Manber): ⌈lg p⌉ rounds of empty messages. */
export async function barrierDissemination(c: Coll): Promise<void> {
  const p = c.size;
  for (let dist = 1; dist < p; dist *= 2) {
    await Promise.all([c.recvRaw((c.rank - dist + p) % p), c.send((c.rank + dist) % p, EMPTY)]);
  }
}

/**
 * Binomial-tree barrier: each rank hears from its children, tells its parent, hears back from it
 * and tells its children (rank 0 is the root). Only p − 1 pairs talk, where the dissemination
 * barrier's p⌈lg p⌉: for a barrier that is the job's first word between most pairs (finalize's),
 * each pair's first message costs a connection, a handshake and a ring offer (~2–4 ms of CPU per
 * pair here), far more than the rounds it saves. Each rank also greets its children on arrival, so
 * that, as in the dissemination barrier, every rank sends at once: a neighbour inside another
 * collective then gets a message of this call and both fail with a mismatch, not a hang.
 */
export async function barrierTree(c: Coll): Promise<void> {
  const p = c.size;
  const r = c.rank;
  // The parent is r minus r's lowest set bit; the children are r + m for each smaller power m.
  let low = 1;
  while (low < p && (r & low) === 0) low *= 2;
  const children: number[] = [];
  for (let m = low / 2; m >= 1; m /= 2) if (r + m < p) children.push(r + m);
  const parent = r === 0 ? null : r - low;
  await Promise.all([...children.map((child) => c.send(child, EMPTY)), ...children.map((child) => c.recvRaw(child)), ...(parent === null ? [] : [c.recvRaw(parent)])]);
  if (parent !== null) {
    await c.send(parent, EMPTY);
    await c.recvRaw(parent);
  }
  await Promise.all(children.map((child) => c.send(child, EMPTY)));
}

/**
 * Binomial-tree broadcast of an encoded payload: the root encodes once, inner nodes forward the
 * bytes they received without decoding them.
 */
export async function bcastBinomial(c: Coll, root: number, enc: Encoded | null, dest?: TypedArray): Promise<Encoded> {
  const p = c.size;
  const vr = (c.rank - root + p) % p;
  let payload = enc;
  let mask = 1;
  while (mask < p) {
    if (vr & mask) {
      const m = await c.recvRaw((vr - mask + root) % p, dest);
      let bytes: Uint8Array | null;
      if (dest && m.dtype === dtypeOf(dest) && m.count === dest.length) {
        // Straight into the caller's array (one copy when it comes out of the parent's memory).
        bytes = bytesOf(dest);
        readPayloadInto(m, bytes);
      } else {
        bytes = payloadOf(m);
      }
      // The bytes are this rank's own now: forwarding them zero-copy lets a same-machine child read them in place.
      payload = { dtype: m.dtype, count: m.count, bytes, zeroCopy: bytes !== null && bytes.byteLength >= CMA_MIN_BYTES };
      break;
    }
    mask <<= 1;
  }
  mask >>= 1;
  const sends: Promise<void>[] = [];
  while (mask > 0) {
    if (vr + mask < p) sends.push(c.sendEncoded((vr + mask + root) % p, payload!));
    mask >>= 1;
  }
  await Promise.all(sends);
  return payload!;
}

/**
 * Combines into `acc` in place where possible: `acc = acc ⊕ other` when `accIsLower`, else
 * `acc = other ⊕ acc`. `acc` must be a private value (a copy the caller owns).
 */
export function accumulate(op: Op, acc: unknown, other: unknown, accIsLower: boolean): unknown {
  if (isTypedArray(acc) && isTypedArray(other)) {
    op.reduceInto(acc, other, accIsLower);
    return acc;
  }
  return accIsLower ? op.combine(acc, other) : op.combine(other, acc);
}

/**
 * Binomial-tree reduce (MPICH's): with a commutative op ranks are numbered relative to the root;
 * otherwise in rank order, so every combine has the lower ranks on the left, and rank 0 forwards
 * the result to the root. Returns the result on the root, undefined elsewhere.
 */
export async function reduceBinomial(c: Coll, data: unknown, op: Op, root: number): Promise<unknown> {
  const p = c.size;
  const rel = op.commutative;
  const vr = rel ? (c.rank - root + p) % p : c.rank;
  const real = (v: number) => (rel ? (v + root) % p : v);
  let acc = copyValue(data);
  let mask = 1;
  while (mask < p) {
    if ((vr & mask) === 0) {
      const src = vr | mask;
      if (src < p) acc = accumulate(op, acc, await c.recv(real(src)), true);
    } else {
      await c.send(real(vr & ~mask), acc);
      acc = undefined;
      break;
    }
    mask <<= 1;
  }
  if (!rel && root !== 0) {
    if (c.rank === 0) {
      await c.send(root, acc);
      return undefined;
    }
    if (c.rank === root) return await c.recv(0);
  }
  return c.rank === root ? acc : undefined;
}

/**
 * Recursive-doubling allreduce. A non-power-of-two size first folds the first 2·rem ranks in
 * pairs (even into odd), runs on the power-of-two remainder, then unfolds. Operand order is kept,
 * so non-commutative ops are correct.
 */
export async function allreduceRecursiveDoubling(c: Coll, data: unknown, op: Op): Promise<unknown> {
  const p = c.size;
  const r = c.rank;
  let acc = copyValue(data);
  let pof2 = 1;
  while (pof2 * 2 <= p) pof2 *= 2;
  const rem = p - pof2;
  let newRank: number;
  if (r < 2 * rem) {
    if (r % 2 === 0) {
      await c.send(r + 1, acc);
      newRank = -1;
    } else {
      acc = accumulate(op, acc, await c.recv(r - 1), false);
      newRank = r >> 1;
    }
  } else {
    newRank = r - rem;
  }
  if (newRank >= 0) {
    for (let mask = 1; mask < pof2; mask <<= 1) {
      const peerNew = newRank ^ mask;
      const peer = peerNew < rem ? peerNew * 2 + 1 : peerNew + rem;
      const [got] = await Promise.all([c.recv(peer), c.send(peer, acc)]);
      acc = accumulate(op, acc, got, newRank < peerNew);
    }
  }
  if (r < 2 * rem) {
    if (r % 2 === 1) await c.send(r - 1, acc);
    else acc = await c.recv(r + 1);
  }
  return acc;
}

/**
 * Inclusive (or exclusive) prefix reduction by recursive doubling (MPICH's scan). Rank 0's
 * exclusive result is undefined.
 */
export async function scanRecursiveDoubling(c: Coll, data: unknown, op: Op, exclusive: boolean): Promise<unknown> {
  const p = c.size;
  const r = c.rank;
  let partial = copyValue(data);
  let result: unknown = exclusive ? undefined : copyValue(data);
  for (let mask = 1; mask < p; mask <<= 1) {
    const peer = r ^ mask;
    if (peer >= p) continue;
    const [got] = await Promise.all([c.recv(peer), c.send(peer, partial)]);
    if (r > peer) {
      result = result === undefined ? copyValue(got) : accumulate(op, result, got, false);
      partial = accumulate(op, partial, got, false);
    } else {
      partial = accumulate(op, partial, got, true);
    }
  }
  return result;
}
