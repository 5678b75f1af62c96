/**
 * Which same-machine peers this rank copies large arrays from, and which copy from it (cma.ts).
 * After rendezvous a rank that has such peers names the process allowed to read it where Yama
 * asks for one (ptrace-scope.ts), then reads each peer's token back from the peer's memory; a peer
 * whose token reads back right is told so over the authenticated stream socket, and from then on
 * sends this rank single-copy headers instead of bytes. Peers may name their reader a moment after
 * this rank looks, so a failed read is tried again a few times.
 *
 * Telling a peer opens this rank's stream socket to it (a connection and a challenge-response), so
 * with many ranks on a machine doing it for every pair at start-up costs O(ranks²): measured ~2 ms
 * of CPU per pair, ~2 s of a 32-rank start-up. Beyond {@link EAGER_SINGLE_COPY_PEERS} peers a rank
 * reads a peer's token when that peer's first message arrives instead, so only pairs that talk pay,
 * and a pair's first large message goes as bytes.
 */
import { allowReader, canReadPeer, type CmaToken } from "./cma.js";
import { chooseReader, type ReaderChoice } from "./ptrace-scope.js";

/**
 * Up to this many same-machine peers, readiness is settled with all of them right after rendezvous
 * (8 ranks on a node: 56 connections, ~0.1 s of CPU in all, ~3% of that start-up); beyond, on first
 * contact.
 */
export const EAGER_SINGLE_COPY_PEERS = 7;

/** Retries of a token read that failed, ms after the previous try. */
const RETRY_MS = [50, 200, 1000, 2000];

/** What the module needs to know of a peer. */
interface SingleCopyCandidate {
  rank: number;
  pid: number;
  cma?: CmaToken | null;
}

/** The single-copy relations of one rank. */
export class SingleCopyPeers {
  private readonly from = new Set<number>();
  private readonly to = new Set<number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Peers not yet read, read when their first message arrives (many peers, see the module comment). */
  private readonly untried = new Map<number, SingleCopyCandidate>();
  /** The reader this rank allowed (null: none was needed or none was safe). */
  reader: ReaderChoice | null = null;

  /**
   * @param token this rank's published token, or null when it offers no single copy
   * @param tellReady tells a peer that this rank can read it
   */
  constructor(
    readonly token: CmaToken | null,
    private readonly tellReady: (rank: number) => void,
  ) {}

  /**
   * Starts with the peers that offer single copy and could use it with this rank: allows the reader
   * at once, and reads every peer's token now (up to `eagerMax` peers) or at its first contact.
   */
  start(candidates: SingleCopyCandidate[], eagerMax = EAGER_SINGLE_COPY_PEERS): void {
    const usable = candidates.filter((p) => p.cma);
    if (!this.token || usable.length === 0) return;
    this.reader = chooseReader(usable.map((p) => p.pid));
    if (this.reader && !allowReader(this.reader.pid)) this.reader = null;
    if (usable.length <= eagerMax) this.tryRead(usable, 0);
    else for (const p of usable) this.untried.set(p.rank, p);
  }

  /** A message came from `rank` over its authenticated stream socket: read its token if not yet tried. */
  contact(rank: number): void {
    const p = this.untried.get(rank);
    if (!p) return;
    this.untried.delete(rank);
    this.tryRead([p], 0);
  }

  private tryRead(pending: SingleCopyCandidate[], attempt: number): void {
    const left = pending.filter((p) => {
      if (!canReadPeer(p.pid, p.cma!)) return true;
      this.from.add(p.rank);
      this.tellReady(p.rank);
      return false;
    });
    if (left.length === 0 || attempt >= RETRY_MS.length) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.tryRead(left, attempt + 1);
    }, RETRY_MS[attempt]);
    timer.unref();
    this.timers.add(timer);
  }

  /** A peer said, over its authenticated socket, that it can read this rank. */
  peerCanRead(rank: number): void {
    if (this.token) this.to.add(rank);
  }

  /** True if `rank` reads this rank's arrays itself. */
  peerReads(rank: number): boolean {
    return this.to.has(rank);
  }

  /** True if this rank told `rank` it can read it (so its single-copy headers are expected). */
  canReadFrom(rank: number): boolean {
    return this.from.has(rank);
  }

  /** Peers this rank sends large arrays to by single copy. */
  sendingTo(): number[] {
    return [...this.to].sort((a, b) => a - b);
  }

  /** Stops retrying and reading. */
  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.untried.clear();
  }
}
