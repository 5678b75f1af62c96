/**
 * Synchronous sends (MPI_Ssend): the sender's promise resolves only once the receiver has matched
 * the message with a receive (a probe does not count), which the receiver's engine tells it with a
 * receipt. Both ends count one communicator's synchronous messages per peer in the order they were
 * sent (a transport delivers one peer's messages in order), so the receipt carries that number and
 * the data message needs no field of its own.
 */

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

/** One communicator's synchronous-send bookkeeping (ranks in the communicator's numbering). */
export class SyncLedger {
  private readonly sent = new Map<number, number>();
  private readonly received = new Map<number, number>();
  private readonly waiting = new Map<number, Map<number, Waiter>>();

  /** Numbers the next synchronous message to `dest`; `matched` resolves when its receipt comes, `forget` drops the wait. */
  expect(dest: number): { n: number; matched: Promise<void>; forget: () => void } {
    const n = this.sent.get(dest) ?? 0;
    this.sent.set(dest, n + 1);
    let m = this.waiting.get(dest);
    if (!m) {
      m = new Map();
      this.waiting.set(dest, m);
    }
    const byN = m;
    const matched = new Promise<void>((resolve, reject) => byN.set(n, { resolve, reject }));
    return { n, matched, forget: () => byN.delete(n) };
  }

  /** Numbers a synchronous message that arrived from `source`. */
  arrived(source: number): number {
    const n = this.received.get(source) ?? 0;
    this.received.set(source, n + 1);
    return n;
  }

  /** A receipt from `source` for message `n`: its sender's wait is over. */
  receipt(source: number, n: number): void {
    const m = this.waiting.get(source);
    const w = m?.get(n);
    if (!w) return;
    m!.delete(n);
    w.resolve();
  }

  /** Synchronous sends still waiting for their receipt. */
  get pending(): number {
    let k = 0;
    for (const m of this.waiting.values()) k += m.size;
    return k;
  }

  /** Rejects every waiting synchronous send. */
  failAll(makeError: (op: string) => Error): void {
    for (const m of this.waiting.values()) {
      for (const w of m.values()) w.reject(makeError("ssend"));
      m.clear();
    }
  }
}
