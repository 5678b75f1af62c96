/**
 * Node-aware algorithms (Open MPI's `han`, MPICH's SMP-aware collectives, NCCL's hierarchical
 * rings): combine inside each node first (same-machine transfers are a single copy), move data
 * between nodes once per node, then spread inside the node. Each phase is one of the flat
 * algorithms run on a view of the call ({@link Coll.over}) — the ranks of one node, the node
 * leaders, or the ranks holding the same node-local index — so the phases reuse the tested code
 * and stay on the call's tag and signature. The layout comes from the rendezvous table, the same on
 * every rank, so every rank runs the same phases without a message about them.
 */
import type { Incoming } from "../comm/matching.js";
import { decodeData, encodeData, type Encoded } from "../comm/payload.js";
import type { TypedArray } from "../transport/dtype.js";
import type { Coll } from "./coll.js";
import { offsetsOf, put, unitCounts } from "./blocks.js";
import type { NodeLayout } from "./layout.js";
import type { Op } from "./op.js";
import { allgatherRing, reduceScatterRing } from "./ring.js";
import { ALLREDUCE_RING_MIN_BYTES, ALLREDUCE_RING_MIN_BYTES_MANY } from "./select.js";
import { allreduceRecursiveDoubling, bcastBinomial, reduceBinomial } from "./tree.js";

const EMPTY = new Uint8Array(0);

/** The ranks of `c`'s node, as a view (this rank's position in it is its node-local index). */
function nodeView(c: Coll, layout: NodeLayout): Coll {
  return c.over(layout.members[layout.nodeOf[c.rank]!]!);
}

/**
 * Hierarchical barrier: each node's ranks report to their leader (the node's lowest rank), the
 * leaders run a dissemination barrier, and each leader releases its node. Inter-node messages:
 * ⌈lg nodes⌉ per leader instead of ⌈lg p⌉ per rank.
 */
export async function barrierHierarchical(c: Coll, layout: NodeLayout): Promise<void> {
  const node = nodeView(c, layout);
  if (node.rank !== 0) {
    await node.send(0, EMPTY);
    await node.recvRaw(0);
    return;
  }
  for (let i = 1; i < node.size; i++) await node.recvRaw(i);
  const leaders = c.over(layout.leaders);
  const p = leaders.size;
  for (let dist = 1; dist < p; dist *= 2) {
    await Promise.all([leaders.recvRaw((leaders.rank - dist + p) % p), leaders.send((leaders.rank + dist) % p, EMPTY)]);
  }
  await Promise.all(Array.from({ length: node.size - 1 }, (_, i) => node.send(i + 1, EMPTY)));
}

/**
 * Hierarchical bcast of an encoded payload from `root`: a binomial tree over one rank per node
 * (the root for its own node, the lowest rank for the others), then a binomial tree inside each
 * node from that rank. Forwarded bytes are never decoded on the way. `enc` is the root's payload
 * (null elsewhere); `dest` a receive buffer to land the bytes in. Returns the payload this rank holds.
 */
export async function bcastHierarchical(c: Coll, layout: NodeLayout, root: number, enc: Encoded | null, dest?: TypedArray): Promise<Encoded> {
  const rootNode = layout.nodeOf[root]!;
  const myNode = layout.nodeOf[c.rank]!;
  const heads = layout.leaders.map((l, n) => (n === rootNode ? root : l));
  const head = heads[myNode]!;
  let payload = enc;
  if (c.rank === head && heads.length > 1) payload = await bcastBinomial(c.over(heads), rootNode, payload, dest);
  const node = nodeView(c, layout);
  if (node.size === 1) return payload!;
  return bcastBinomial(node, layout.localIndex[head]!, c.rank === head ? payload : null, dest);
}

/** What the choice between the two hierarchical allreduce shapes depends on (facts every rank shares). */
export interface HierarchicalAllreduceFacts {
  /** Typed array (reduced element-wise) rather than a plain value. */
  typed: boolean;
  /** Bytes of the typed array. */
  bytes: number;
  /** Items (elements; MINLOC/MAXLOC pairs). */
  units: number;
  commutative: boolean;
  /** Ranks in the communicator. */
  size: number;
  /** Every node holds the same number of ranks. */
  uniform: boolean;
}

/** The two shapes of the hierarchical allreduce. */
export type HierarchicalShape = "leaders" | "segments";

/**
 * `segments` (reduce-scatter inside the node, one allreduce per node-local segment across nodes,
 * allgather inside the node: every rank moves 1/perNode of the data between nodes) for long typed
 * arrays with a commutative op on a uniform layout; `leaders` (reduce to the node leader, allreduce
 * among leaders, bcast inside the node) otherwise — it keeps rank order on a block layout.
 * The byte threshold is the flat ring's: below it the latency of the extra ring steps dominates.
 */
export function chooseHierarchicalShape(f: HierarchicalAllreduceFacts): HierarchicalShape {
  return f.typed && f.commutative && f.uniform && f.units >= f.size && f.bytes > ALLREDUCE_RING_MIN_BYTES_MANY ? "segments" : "leaders";
}

/**
 * Hierarchical allreduce, `leaders` shape: binomial reduce inside each node to its lowest rank,
 * recursive-doubling allreduce among the leaders (node order), binomial bcast inside each node.
 * Operand order is rank order when every node's ranks are consecutive, so a non-commutative op is
 * exact there (the caller checks). Returns this rank's result (a fresh value).
 */
export async function allreduceHierarchical(c: Coll, layout: NodeLayout, data: unknown, op: Op): Promise<unknown> {
  const node = nodeView(c, layout);
  let acc = await reduceBinomial(node, data, op, 0);
  if (node.rank === 0 && layout.leaders.length > 1) acc = await allreduceRecursiveDoubling(c.over(layout.leaders), acc, op);
  if (node.size === 1) return acc;
  // A large typed result goes zero-copy (same-machine ranks copy it straight out of the leader, which awaits them).
  if (node.rank === 0) {
    await bcastBinomial(node, 0, encodeData(acc, c.eagerLimit));
    return acc;
  }
  const got = await bcastBinomial(node, 0, null);
  return decodeData(incoming(got));
}

/**
 * Hierarchical allreduce, `segments` shape (NCCL's hierarchical ring, han's reduce-scatter
 * variant) into `buf` (length of `src`): ring reduce-scatter of `src` inside each node, so the
 * rank with node-local index i holds its node's sum of segment i; an allreduce of segment i among
 * the ranks with index i on every node (ring or recursive doubling, by the flat rule); ring
 * allgather inside each node. Commutative op, uniform layout (the caller checks).
 */
export async function allreduceSegments(c: Coll, layout: NodeLayout, buf: TypedArray, src: TypedArray, op: Op): Promise<void> {
  const node = nodeView(c, layout);
  const i = node.rank;
  const counts = unitCounts(src.length, node.size, op.unit);
  const offs = offsetsOf(counts);
  await reduceScatterRing(node, buf, op, counts, offs, src);
  const nodes = layout.members.length;
  if (nodes > 1 && counts[i]! > 0) {
    const across = c.over(layout.members.map((m) => m[i]!));
    const seg = buf.subarray(offs[i]!, offs[i]! + counts[i]!);
    const from = nodes === 2 ? ALLREDUCE_RING_MIN_BYTES : ALLREDUCE_RING_MIN_BYTES_MANY;
    if (seg.byteLength > from && seg.length / op.unit >= nodes) {
      const sc = unitCounts(seg.length, nodes, op.unit);
      const so = offsetsOf(sc);
      await reduceScatterRing(across, seg, op, sc, so);
      await allgatherRing(across, seg, sc, so);
    } else {
      put(buf, (await allreduceRecursiveDoubling(across, seg, op)) as TypedArray, offs[i]!);
    }
  }
  await allgatherRing(node, buf, counts, offs);
}

/** A received payload (bytes this rank owns) as a message to decode. */
export function incoming(enc: Encoded, source = 0): Incoming {
  return { source, tag: 0, dtype: enc.dtype, count: enc.count, payload: enc.bytes as Buffer | null };
}
