/**
 * Per-peer delivery in send order. A peer's data may reach this rank over two connections one
 * after the other (the same-machine stream socket, then its ZeroMQ fallback), each in order but
 * not with each other: the sender numbers its messages to each rank and the receiver holds what
 * comes early until the gap before it is filled.
 *
 * What is held is bounded: a message more than {@link MAX_AHEAD} numbers ahead, or one more than
 * {@link MAX_HELD} messages or {@link MAX_HELD_BYTES} bytes are held for its sender, is refused
 * (the caller counts and reports it). A correct sender never comes near these: its messages are
 * out of order only across one switch of connection.
 */

/** Farthest ahead of the next expected number a message may be. */
export const MAX_AHEAD = 1 << 16;
/** Most messages held per sender. */
export const MAX_HELD = 4096;
/** Most payload bytes held per sender. */
export const MAX_HELD_BYTES = 256 * 1024 * 1024;

/** What {@link InOrder.push} did with a message. */
type PushResult = "delivered" | "held" | "repeat" | "too-far" | "too-much";

interface Held<T> {
  items: Map<number, { item: T; bytes: number }>;
  bytes: number;
}

export class InOrder<T> {
  private readonly expect: number[];
  private readonly held = new Map<number, Held<T>>();

  constructor(size: number) {
    this.expect = new Array<number>(size).fill(0);
  }

  /**
   * Takes message `seq` from `src` (`bytes` is its size, for the bound): delivers it, and then every
   * held one it unblocks, in order; or holds what `keep` makes of it (a private copy, so a held
   * slice does not pin the larger buffer it was cut from) until its turn. A number already delivered is never
   * delivered twice ("repeat"); one beyond the bounds is dropped ("too-far", "too-much").
   */
  push(src: number, seq: number, item: T, deliver: (item: T) => void, bytes = 0, keep: (item: T) => T = (x) => x): PushResult {
    const want = this.expect[src]!;
    if (seq !== want) {
      if (seq < want) return "repeat";
      if (seq - want > MAX_AHEAD) return "too-far";
      let h = this.held.get(src);
      if (!h) {
        h = { items: new Map(), bytes: 0 };
        this.held.set(src, h);
      }
      if (h.items.has(seq)) return "repeat";
      if (h.items.size >= MAX_HELD || h.bytes + bytes > MAX_HELD_BYTES) return "too-much";
      h.items.set(seq, { item: keep(item), bytes });
      h.bytes += bytes;
      return "held";
    }
    this.expect[src] = want + 1;
    deliver(item);
    const h = this.held.get(src);
    if (!h || h.items.size === 0) return "delivered";
    for (let next = h.items.get(this.expect[src]!); next !== undefined; next = h.items.get(this.expect[src]!)) {
      h.items.delete(this.expect[src]!);
      h.bytes -= next.bytes;
      this.expect[src]!++;
      deliver(next.item);
    }
    return "delivered";
  }

  /** The number of the next message from `src` to deliver. */
  next(src: number): number {
    return this.expect[src]!;
  }

  /** Messages from `src` waiting for an earlier one (diagnostics). */
  heldFrom(src: number): number {
    return this.held.get(src)?.items.size ?? 0;
  }

  /** Payload bytes held for `src` (diagnostics). */
  heldBytesFrom(src: number): number {
    return this.held.get(src)?.bytes ?? 0;
  }
}
