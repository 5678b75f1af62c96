/**
 * Counts what a process refuses (connections that fail authentication, bytes that are not ours)
 * and says so in its log without letting an attacker flood the log: the first refusal from each
 * peer address is logged at once, later ones are summed and summarized at most once per interval,
 * and past a number of distinct addresses the rest are pooled. A job under attack says so.
 */

/** Longest a summary waits, ms. */
const SUMMARY_INTERVAL_MS = 60_000;
/** Distinct addresses tracked one by one; further ones are pooled under one entry. */
const MAX_ADDRESSES = 64;
const POOLED = "other addresses";

interface PerAddress {
  /** Refusals not yet reported, by reason. */
  pending: Map<string, number>;
}

/** Refusal counters and their rate-limited log lines, for one service (a rank's ports, the coordinator). */
export class Refusals {
  /** Every refusal counted. */
  total = 0;
  /** Refusals by reason. */
  readonly byReason = new Map<string, number>();
  private readonly addresses = new Map<string, PerAddress>();
  private timer: NodeJS.Timeout | null = null;

  /**
   * @param who what refused, for the log (e.g. `"rank 1"`, `"the coordinator"`)
   * @param log where lines go (init passes the rank's stderr)
   */
  constructor(
    private readonly who: string,
    private readonly log: (line: string) => void,
    private readonly intervalMs = SUMMARY_INTERVAL_MS,
  ) {}

  /** Counts one refusal from `address` (an IP, or a description such as `"unix socket"`) for `why`. */
  refuse(address: string, why: string): void {
    this.total++;
    this.byReason.set(why, (this.byReason.get(why) ?? 0) + 1);
    let key = address || "unknown address";
    if (!this.addresses.has(key) && this.addresses.size >= MAX_ADDRESSES) key = POOLED;
    const seen = this.addresses.get(key);
    if (!seen) {
      this.addresses.set(key, { pending: new Map() });
      const from = key === POOLED ? "from yet another address" : `from ${key}`;
      this.log(`${this.who} refused a connection ${from}: ${why} (further refusals from there are counted and summarized every ${Math.round(this.intervalMs / 1000)} s)`);
      return;
    }
    seen.pending.set(why, (seen.pending.get(why) ?? 0) + 1);
    if (!this.timer) {
      this.timer = setTimeout(() => this.summarize(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Logs what was refused since the last summary (also called on close). */
  summarize(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const [address, a] of this.addresses) {
      if (a.pending.size === 0) continue;
      const n = [...a.pending.values()].reduce((s, x) => s + x, 0);
      const reasons = [...a.pending].map(([why, k]) => `${why}: ${k}`).join(", ");
      this.log(`${this.who} refused ${n} more connection${n === 1 ? "" : "s"} from ${address} (${reasons})`);
      a.pending.clear();
    }
  }
}
