/**
 * Bandwidth-bound algorithms (named `<collective><Algorithm>`): ring reduce-scatter and allgather
 * (which together make the ring allreduce), linear gather/scatter of blocks, the Bruck and
 * recursive-doubling allgathers, scatter + allgather bcast, and the linear and pairwise alltoalls. Ring steps move their block in segments, so the
 * reduction of one segment overlaps the transfer of the next.
 */
import { claimRemote, discardPayload, type Incoming } from "../comm/matching.js";
import { decodeData, decodeToward } from "../comm/payload.js";
import { bytesOf, type TypedArray } from "../transport/dtype.js";
import type { RemotePayload } from "../transport/transport.js";
import type { Coll } from "./coll.js";
import { like, put, scratchLike, segments } from "./blocks.js";
import type { Op } from "./op.js";
import { RING_SEGMENT_BYTES } from "./select.js";

/**
 * Elements per ring segment: an even number, so a segment never cuts a MINLOC/MAXLOC
 * `[value, index]` pair (blocks themselves are cut on pairs by the caller's counts).
 */
function segElems(a: TypedArray): number {
  return Math.max(2, Math.floor(RING_SEGMENT_BYTES / a.BYTES_PER_ELEMENT / 2) * 2);
}

/**
 * Sends `buf[off, off+n)` to `dest` in segments; resolves when all are out (and acknowledged if
 * large). Marked handled at once: the caller awaits it after its receives, and a failure there
 * must not surface as an unhandled rejection.
 */
function sendBlock(c: Coll, dest: number, buf: TypedArray, off: number, n: number): Promise<unknown[]> {
  const p = Promise.all(segments(n, segElems(buf)).map(([s, len]) => c.send(dest, buf.subarray(off + s, off + s + len))));
  p.catch(() => {});
  return p;
}

/**
 * The next message from `source`, which must hold `len` elements (else it is released and this
 * throws); `into` is where its bytes will go (a stream may read them straight there).
 */
async function recvCount(c: Coll, source: number, len: number, what: string, into?: TypedArray): Promise<Incoming> {
  const m = await c.recvRaw(source, into);
  if (m.count !== len) {
    discardPayload(m);
    throw new RangeError(`${what}: rank ${c.commRank(source)} sent ${m.count} elements, expected ${len}`);
  }
  return m;
}

/** Receives `len` elements from `source` into `buf` at `at`: straight there when the bytes come out of the sender's memory. */
async function recvSegment(c: Coll, source: number, buf: TypedArray, at: number, len: number, what: string): Promise<void> {
  const dst = buf.subarray(at, at + len);
  const m = await recvCount(c, source, len, what, dst);
  const got = decodeToward(m, dst);
  if (got !== dst) put(buf, got, at);
}

/** Elements per piece of a remote reduction: three pieces (input, peer's bytes, result) stay in L2. */
const REDUCE_PIECE_BYTES = 128 * 1024;

/**
 * `dst = op(mine ?? dst, peer)` where the peer's segment is still in the peer's memory: it is read
 * in L2-sized pieces into a scratch and folded in while hot, so each byte crosses memory once.
 */
function reduceRemote(remote: RemotePayload, dst: TypedArray, mine: TypedArray | null, op: Op): void {
  const bpe = dst.BYTES_PER_ELEMENT;
  // An even number of elements: a piece never cuts a MINLOC/MAXLOC pair.
  const piece = Math.max(2, Math.floor(REDUCE_PIECE_BYTES / bpe / 2) * 2);
  const scratch = scratchLike(dst, Math.min(piece, dst.length));
  try {
    for (let i = 0; i < dst.length; i += piece) {
      const k = Math.min(piece, dst.length - i);
      const d = dst.subarray(i, i + k);
      const s = k === scratch.length ? scratch : scratch.subarray(0, k);
      remote.read(bytesOf(s), i * bpe);
      if (mine) put(d, mine.subarray(i, i + k), 0);
      op.reduceInto(d, s, true);
    }
  } finally {
    remote.release();
  }
}

/**
 * Ring reduce-scatter into `buf`: after p−1 steps, rank r's block r (of the given
 * counts/offsets) holds the reduction of every rank's block r. The input is `src` (default `buf`
 * itself): a received segment is combined with the input's segment straight into `buf`, so no
 * separate copy of the whole input is made. Commutative ops only.
 */
export async function reduceScatterRing(c: Coll, buf: TypedArray, op: Op, counts: readonly number[], offs: readonly number[], src: TypedArray = buf): Promise<void> {
  const p = c.size;
  const r = c.rank;
  const next = (r + 1) % p;
  const prev = (r - 1 + p) % p;
  const seg = segElems(buf);
  // This call's own landing place for a segment that comes over a stream (across nodes): read
  // there, reduced, then the next one. (The shared scratch of blocks.ts may not wait across an await.)
  let landing: TypedArray | null = null;
  for (let s = 0; s < p - 1; s++) {
    const sb = (((r - s - 1) % p) + p) % p;
    const rb = (((r - s - 2) % p) + p) % p;
    // Step 0 sends this rank's own input; later steps forward partial sums already in buf.
    const sent = sendBlock(c, next, s === 0 ? src : buf, offs[sb]!, counts[sb]!);
    for (const [so, len] of segments(counts[rb]!, seg)) {
      const big = len * buf.BYTES_PER_ELEMENT > c.eagerLimit;
      if (big && !landing) landing = like(buf, Math.min(seg, Math.max(...counts)));
      const m = await recvCount(c, prev, len, "ring reduce-scatter", big ? landing!.subarray(0, len) : undefined);
      const at = offs[rb]! + so;
      const dst = buf.subarray(at, at + len);
      // From here to the reduction nothing awaits, so the shared scratch cannot be overwritten.
      const remote = claimRemote(m);
      if (remote) {
        reduceRemote(remote, dst, src === buf ? null : src.subarray(at, at + len), op);
      } else {
        if (src !== buf) put(dst, src.subarray(at, at + len), 0);
        op.reduceInto(dst, decodeData(m) as TypedArray, true);
      }
    }
    await sent;
  }
  // With p = 1 nothing was received: the result is the input.
  if (p === 1 && src !== buf) put(buf, src, 0);
}

/**
 * Ring allgather in place on `buf`: rank r contributes block r (already in place) and ends with
 * every block.
 */
export async function allgatherRing(c: Coll, buf: TypedArray, counts: readonly number[], offs: readonly number[]): Promise<void> {
  const p = c.size;
  const r = c.rank;
  const next = (r + 1) % p;
  const prev = (r - 1 + p) % p;
  const seg = segElems(buf);
  for (let s = 0; s < p - 1; s++) {
    const sb = (((r - s) % p) + p) % p;
    const rb = (((r - s - 1) % p) + p) % p;
    const sent = sendBlock(c, next, buf, offs[sb]!, counts[sb]!);
    for (const [so, len] of segments(counts[rb]!, seg)) {
      await recvSegment(c, prev, buf, offs[rb]! + so, len, "ring allgather");
    }
    await sent;
  }
}

/** Recursive-doubling allgather of equal blocks of `k` (power-of-two sizes only), in place on `buf`. */
export async function allgatherRecursiveDoubling(c: Coll, buf: TypedArray, k: number): Promise<void> {
  for (let mask = 1; mask < c.size; mask <<= 1) {
    const peer = c.rank ^ mask;
    const mine = (c.rank & ~(mask - 1)) * k;
    const theirs = (peer & ~(mask - 1)) * k;
    await Promise.all([recvSegment(c, peer, buf, theirs, mask * k, "allgather"), c.send(peer, buf.subarray(mine, mine + mask * k))]);
  }
}

/**
 * Bruck allgather over arbitrary items (any size, ⌈lg p⌉ rounds): each round sends the items
 * gathered so far as one message. Returns the items indexed by rank.
 */
export async function allgatherBruck(c: Coll, mine: unknown): Promise<unknown[]> {
  const p = c.size;
  const r = c.rank;
  const tmp: unknown[] = [mine];
  for (let pof = 1; pof < p; pof *= 2) {
    const cnt = Math.min(pof, p - pof);
    const [got] = await Promise.all([c.recv<unknown[]>((r + pof) % p), c.send((r - pof + p) % p, tmp.slice(0, cnt))]);
    for (let i = 0; i < cnt; i++) tmp[pof + i] = got[i];
  }
  const out = new Array<unknown>(p);
  for (let i = 0; i < p; i++) out[(r + i) % p] = tmp[i];
  return out;
}

/** Root receives every rank's block into `buf` at `offs` (typed) — the linear gather. */
export async function gatherLinear(c: Coll, root: number, buf: TypedArray | null, mine: TypedArray, counts: readonly number[], offs: readonly number[]): Promise<void> {
  if (c.rank !== root) {
    await c.send(root, mine);
    return;
  }
  put(buf!, mine, offs[root]!);
  await Promise.all(
    Array.from({ length: c.size }, async (_, src) => {
      if (src === root) return;
      await recvSegment(c, src, buf!, offs[src]!, counts[src]!, "gather");
    }),
  );
}

/** Root sends block i of `buf` to rank i; returns this rank's block (a view for the root, received otherwise). */
export async function scatterLinear(c: Coll, root: number, buf: TypedArray | null, counts: readonly number[], offs: readonly number[], out?: TypedArray): Promise<TypedArray> {
  if (c.rank !== root) return c.recv<TypedArray>(root, out);
  await Promise.all(Array.from({ length: c.size }, (_, dst) => (dst === root ? Promise.resolve() : c.send(dst, buf!.subarray(offs[dst]!, offs[dst]! + counts[dst]!)))));
  const own = buf!.subarray(offs[root]!, offs[root]! + counts[root]!);
  if (out) {
    put(out, own, 0);
    return out.length === own.length ? out : out.subarray(0, own.length);
  }
  return own;
}

/**
 * Broadcast of a typed array by scatter + ring allgather (MPICH's long-message bcast): the root
 * sends each rank one block, then the ring completes everyone's copy. `buf` is the result on every
 * rank; the root sends the blocks out of `src` (its data, unchanged while the call runs) and needs
 * only its own block in `buf` beforehand.
 */
export async function bcastScatterAllgather(c: Coll, root: number, buf: TypedArray, counts: readonly number[], offs: readonly number[], src: TypedArray = buf): Promise<void> {
  if (c.rank === root) {
    await Promise.all(Array.from({ length: c.size }, (_, dst) => (dst === root ? undefined : sendBlock(c, dst, src, offs[dst]!, counts[dst]!))));
  } else {
    for (const [so, len] of segments(counts[c.rank]!, segElems(buf))) {
      await recvSegment(c, root, buf, offs[c.rank]! + so, len, "bcast");
    }
  }
  await allgatherRing(c, buf, counts, offs);
}

/**
 * Linear alltoall of items (latency-bound sizes): every receive and send posted at once.
 * `send(i)` gives what goes to rank i, `recv(i, value)` stores what came from rank i.
 */
export async function alltoallLinear(c: Coll, send: (i: number) => unknown, recv: (i: number, v: unknown) => void): Promise<void> {
  const p = c.size;
  const r = c.rank;
  recv(r, send(r));
  const incoming = Array.from({ length: p }, (_, s) => (s === r ? null : c.recv(s).then((v) => recv(s, v))));
  const outgoing = Array.from({ length: p }, (_, d) => (d === r ? undefined : c.send(d, send(d))));
  await Promise.all([...incoming, ...outgoing]);
}

/**
 * Pairwise alltoall (bandwidth-bound sizes): step s sends to rank r+s and receives from r−s, one
 * peer at a time, so no rank is flooded by all the others at once. Same messages on the wire as
 * {@link alltoallLinear}: one per ordered pair of ranks.
 */
export async function alltoallPairwise(c: Coll, send: (i: number) => unknown, recv: (i: number, v: unknown) => void): Promise<void> {
  const p = c.size;
  const r = c.rank;
  recv(r, send(r));
  for (let s = 1; s < p; s++) {
    const dst = (r + s) % p;
    const src = (r - s + p) % p;
    const [got] = await Promise.all([c.recv(src), c.send(dst, send(dst))]);
    recv(src, got);
  }
}
