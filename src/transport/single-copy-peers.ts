/**
 * Which same-machine peers this rank copies large arrays from, and which copy from it (cma.ts).
 * After rendezvous a rank that has such peers names the process allowed to read it where Yama
 * asks for one (ptrace-scope.ts), then reads each peer's token back from the peer's memory; a peer
 * whose token reads back right is told so over the authenticated stream socket, and from then on
 * sends this rank single-copy headers instead of bytes. Peers may name their reader a moment after
 * this rank looks, so a failed read is tried again a few times.
 */
import { allowReader, canReadPeer, type CmaToken } from "./cma.js";
import { chooseReader, type ReaderChoice } from "./ptrace-scope.js";

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
  private timer: NodeJS.Timeout | null = null;
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

  /** Starts with the peers that offer single copy and could use it with this rank. */
  start(candidates: SingleCopyCandidate[]): void {
    const usable = candidates.filter((p) => p.cma);
    if (!this.token || usable.length === 0) return;
    this.reader = chooseReader(usable.map((p) => p.pid));
    if (this.reader && !allowReader(this.reader.pid)) this.reader = null;
    this.tryRead(usable, 0);
  }

  private tryRead(pending: SingleCopyCandidate[], attempt: number): void {
    this.timer = null;
    const left = pending.filter((p) => {
      if (!canReadPeer(p.pid, p.cma!)) return true;
      this.from.add(p.rank);
      this.tellReady(p.rank);
      return false;
    });
    if (left.length === 0 || attempt >= RETRY_MS.length) return;
    this.timer = setTimeout(() => this.tryRead(left, attempt + 1), RETRY_MS[attempt]);
    this.timer.unref();
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

  /** Stops retrying. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
