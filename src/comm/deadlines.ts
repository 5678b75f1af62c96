/**
 * Deadlines for waits without a timer per wait. A receive sits on every message's critical path,
 * and creating and clearing a timer for each one cost about 4 µs per hop here (measured in a
 * ping-pong). Instead one timer is armed for the earliest deadline; entries are removed lazily,
 * and since most waits share the same timeout, a new wait almost never re-arms it. The timer holds
 * the process open only while some wait is pending (ref/unref flips a flag, no timer churn).
 */

/** A registered deadline; `cancel()` when the wait is over. */
export interface Deadline {
  cancel(): void;
}

/** setTimeout's longest delay (2^31 - 1 ms, about 24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 0x7fffffff;

interface Entry {
  at: number;
  expire: () => void;
  live: boolean;
}

class DeadlineSet {
  private readonly entries = new Set<Entry>();
  private timer: NodeJS.Timeout | null = null;
  private armedFor = Infinity;

  add(ms: number, expire: () => void): Deadline {
    const e: Entry = { at: performance.now() + ms, expire, live: true };
    this.entries.add(e);
    if (e.at < this.armedFor) this.arm(e.at);
    else if (this.entries.size === 1) this.timer?.ref();
    return {
      cancel: () => {
        if (!e.live) return;
        e.live = false;
        this.entries.delete(e);
        if (this.entries.size === 0) this.timer?.unref();
      },
    };
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = at;
    // A deadline beyond the timer's range is reached in steps: fire() finds nothing due and re-arms.
    this.timer = setTimeout(() => this.fire(), Math.min(MAX_TIMER_MS, Math.max(0, at - performance.now())));
  }

  private fire(): void {
    this.timer = null;
    this.armedFor = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const e of this.entries) {
      if (e.at <= now + 1) {
        this.entries.delete(e);
        e.live = false;
        e.expire();
      } else if (e.at < next) {
        next = e.at;
      }
    }
    if (next < Infinity) this.arm(next);
  }
}

/** The process-wide deadline set. */
export const deadlines = new DeadlineSet();

/** `p`, or a rejection with `onTimeout()` if it has not settled within `ms`. */
export function withDeadline<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const d = deadlines.add(ms, () => reject(onTimeout()));
    p.then(
      (v) => {
        d.cancel();
        resolve(v);
      },
      (e: unknown) => {
        d.cancel();
        reject(e);
      },
    );
  });
}
