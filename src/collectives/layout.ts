/**
 * Where a communicator's ranks run, as facts every rank shares: the node of each rank comes from
 * the endpoint table every rank received at rendezvous (`Engine.nodes`), so every rank computes the
 * same layout without a message, and node-aware algorithms can be chosen from it like any other
 * agreed fact. Computed once per communicator (its group never changes).
 */

/** The node layout of one communicator. */
export interface NodeLayout {
  /** Node index of each communicator rank; nodes are numbered in the order of their lowest rank. */
  readonly nodeOf: readonly number[];
  /** Communicator ranks on each node, ascending. */
  readonly members: readonly (readonly number[])[];
  /** Each rank's position among its node's ranks (0 for the node's lowest rank, its leader). */
  readonly localIndex: readonly number[];
  /** The lowest rank of each node, by node index. */
  readonly leaders: readonly number[];
  /** What the algorithm choices read. */
  readonly facts: LayoutFacts;
}

/** The layout as the choosers see it. */
export interface LayoutFacts {
  /** Distinct nodes. */
  nodes: number;
  /** Ranks on the most populated node. */
  perNode: number;
  /** Every node holds the same number of ranks. */
  uniform: boolean;
  /**
   * Every node's ranks are consecutive (Slurm's block distribution), so node order is rank order
   * and a non-commutative reduction can combine inside nodes first.
   */
  contiguous: boolean;
}

/** The layout of ranks whose machines are `keys` (index = communicator rank, equal keys = same node). */
export function nodeLayout(keys: readonly string[]): NodeLayout {
  const index = new Map<string, number>();
  const members: number[][] = [];
  const nodeOf = keys.map((k, r) => {
    let n = index.get(k);
    if (n === undefined) {
      n = members.length;
      index.set(k, n);
      members.push([]);
    }
    members[n]!.push(r);
    return n;
  });
  const localIndex = new Array<number>(keys.length);
  for (const m of members) m.forEach((r, i) => (localIndex[r] = i));
  const perNode = Math.max(0, ...members.map((m) => m.length));
  return {
    nodeOf,
    members,
    localIndex,
    leaders: members.map((m) => m[0]!),
    facts: {
      nodes: members.length,
      perNode,
      uniform: members.every((m) => m.length === perNode),
      contiguous: members.every((m) => m[m.length - 1]! - m[0]! === m.length - 1),
    },
  };
}

/** One node holding every rank (a world of one machine, or a communicator inside one node). */
export function oneNode(size: number): LayoutFacts {
  return { nodes: 1, perNode: size, uniform: true, contiguous: true };
}

/**
 * True when node-aware algorithms can differ from the flat ones: several nodes, and at least one
 * of them holds several ranks (with one rank per node, or one node, the hierarchy is the flat algorithm).
 */
export function multiNode(f: LayoutFacts): boolean {
  return f.nodes > 1 && f.perNode > 1;
}
