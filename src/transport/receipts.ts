/**
 * Receipts a sender waits for: a zero-copy send may reuse its buffer, and a single-copy message's
 * memory may be freed, only once the receiver says it has the bytes (an ACK naming the message's
 * number). Kept per peer, so a peer found dead fails exactly its own waits.
 */

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

/** The receipts one rank is waiting for. */
export class Receipts {
  readonly #byPeer = new Map<number, Map<number, Waiter>>();

  /** Resolves when `peer` acknowledges message `seq`; rejects when the peer is failed. */
  wait(peer: number, seq: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let m = this.#byPeer.get(peer);
      if (!m) {
        m = new Map();
        this.#byPeer.set(peer, m);
      }
      m.set(seq, { resolve, reject });
    });
  }

  /** True while the receipt of message `seq` from `peer` is awaited. */
  awaits(peer: number, seq: number): boolean {
    return this.#byPeer.get(peer)?.has(seq) === true;
  }

  /** `peer` acknowledged message `seq` (an unknown number is ignored: receipts carry no authority). */
  settle(peer: number, seq: number): void {
    const m = this.#byPeer.get(peer);
    const w = m?.get(seq);
    if (!w) return;
    m!.delete(seq);
    w.resolve();
  }

  /** Rejects every receipt awaited from `peer`. */
  failPeer(peer: number, err: Error): void {
    const m = this.#byPeer.get(peer);
    if (!m) return;
    for (const w of m.values()) w.reject(err);
    m.clear();
  }

  /** Rejects every receipt awaited from anyone. */
  failAll(err: Error): void {
    for (const peer of [...this.#byPeer.keys()]) this.failPeer(peer, err);
    this.#byPeer.clear();
  }
}
