/**
 * Per-peer delivery in send order. A peer's data may reach this rank over two connections (small
 * messages over the same-machine stream socket, large ones over ZeroMQ, or the socket and then its
 * ZeroMQ fallback), each in order but not with each other: the sender numbers its messages to
 * each rank and the receiver holds what comes early until the gap before it is filled.
 */
export class InOrder<T> {
  private readonly expect: number[];
  private readonly held = new Map<number, Map<number, T>>();

  constructor(size: number) {
    this.expect = new Array<number>(size).fill(0);
  }

  /**
   * Takes message `seq` from `src`: delivers it, and then every held one it unblocks, in order;
   * or holds it until its turn. Returns false for a number already delivered (never delivered twice).
   */
  push(src: number, seq: number, item: T, deliver: (item: T) => void): boolean {
    const want = this.expect[src]!;
    if (seq !== want) {
      if (seq < want) return false;
      let h = this.held.get(src);
      if (!h) this.held.set(src, (h = new Map()));
      h.set(seq, item);
      return true;
    }
    this.expect[src] = want + 1;
    deliver(item);
    const h = this.held.get(src);
    if (!h || h.size === 0) return true;
    for (let next = h.get(this.expect[src]!); next !== undefined; next = h.get(this.expect[src]!)) {
      h.delete(this.expect[src]!);
      this.expect[src]!++;
      deliver(next);
    }
    return true;
  }

  /** Messages from `src` waiting for an earlier one (diagnostics). */
  heldFrom(src: number): number {
    return this.held.get(src)?.size ?? 0;
  }
}
