/**
 * The endpoint table a rank learns at rendezvous, and what follows from it: where each peer is
 * (this machine or another), how to reach it, whether a client key is one of the job's, and the
 * stream-socket key this rank shares with each same-machine peer.
 */
import type { CmaToken } from "./cma.js";
import { pairKey, z85Decode, type CurveKeyPair } from "./keys.js";
import type { PeerKind } from "./transport.js";

/** How to reach one rank. */
export interface PeerEndpoint {
  /** World rank. */
  rank: number;
  /** `tcp://addr:port` on the rank's node address. */
  tcp: string;
  /** `ipc://path`, usable by ranks on the same host, or null. */
  ipc: string | null;
  /** Node name the rank runs on. */
  nodeName: string;
  /** `os.hostname()` of the rank's machine (ipc needs the same machine, not only the same node name). */
  hostname: string;
  /** Process id, for error messages and cross-memory attach. */
  pid: number;
  /** The rank's CURVE public key (Z85): its inbox proves it, its links present it. */
  key: string;
  /** Token for cross-memory attach, or null/absent when the rank offers none. */
  cma?: CmaToken | null;
  /** Path of the rank's same-machine stream socket (Unix socket), or null/absent. */
  stream?: string | null;
}

/** A rank's view of the table. */
export class PeerTable {
  private peers: PeerEndpoint[] = [];
  private keys: Buffer[] = [];
  private me: PeerEndpoint | null = null;
  private readonly kinds: (PeerKind | undefined)[] = [];
  private readonly pairKeys = new Map<number, Buffer>();

  constructor(
    private readonly rank: number,
    private readonly mine: CurveKeyPair,
    private readonly jobKey: Buffer,
  ) {}

  /** Installs the table; throws on a key that is not a CURVE public key. */
  set(peers: PeerEndpoint[]): void {
    const keys = peers.map((p) => z85Decode(p.key));
    if (keys.some((k) => k?.length !== 32)) throw new Error("the endpoint table holds a malformed key");
    this.peers = peers;
    this.keys = keys as Buffer[];
    this.me = peers[this.rank] ?? null;
  }

  /** True once the table is here. */
  get known(): boolean {
    return this.peers.length > 0;
  }

  /** Every entry. */
  all(): readonly PeerEndpoint[] {
    return this.peers;
  }

  /** One rank's entry, if known. */
  get(rank: number): PeerEndpoint | undefined {
    return this.peers[rank];
  }

  /** True if `key` is one of the job's ranks' public keys. */
  hasKey(key: Buffer): boolean {
    return this.keys.some((k) => k.equals(key));
  }

  /** Same host and node: ipc, the stream socket and cross-memory attach work. */
  sameMachine(rank: number): boolean {
    const p = this.peers[rank];
    return !!p && !!this.me && p.hostname === this.me.hostname && p.nodeName === this.me.nodeName;
  }

  /** Where a peer is, for the traffic counters (worked out once per peer: it is on every message's path). */
  kindOf(rank: number): PeerKind {
    if (rank === this.rank) return "self";
    let k = this.kinds[rank];
    if (k === undefined && this.known) k = this.kinds[rank] = this.sameMachine(rank) ? "node" : "remote";
    return k ?? "remote";
  }

  /** ipc for a peer on the same machine and node, tcp otherwise. */
  endpointOf(rank: number): string | undefined {
    const p = this.peers[rank];
    if (!p) return undefined;
    if (p.ipc && this.sameMachine(rank)) return p.ipc;
    return p.tcp;
  }

  /** The stream-socket key this rank shares with `rank`, or null if it has none (no table yet, or itself). */
  pairKey(rank: number): Buffer | null {
    let k = this.pairKeys.get(rank);
    if (k) return k;
    const theirs = this.keys[rank];
    if (!theirs || rank === this.rank) return null;
    k = pairKey(this.mine, theirs, this.jobKey, "zmpi stream");
    this.pairKeys.set(rank, k);
    return k;
  }
}
