/**
 * A receive waiting for a rank on another node polls its TCP connection for a moment before the
 * event loop sleeps, as MPI's TCP transports poll their sockets: a rank asleep in epoll must be
 * woken by the sender's write, and on this VM that wake-up is most of a small message's cost on
 * both sides (in C over loopback, 8 B ping-pong half round trip: 14–16 µs sleeping in recv, 7 µs
 * polling; Node's event loop adds its own turn on top). The native addon's `recvNow` takes what has
 * arrived without waiting (native/zmpi_socket.c) and the stream reader delivers it at once
 * (stream-inbox.ts pollFrom). Bounded by a budget (`ZMPI_TCP_SPIN_US`), 0 when the machine has
 * more of the job's ranks than cores (a rank that polls would take its partner's core).
 */
import { loadNativeAddon } from "./native-addon.js";
import { firstYield, yieldCpu, yieldIfDue } from "./poll-budget.js";
import type { StreamInbox } from "./stream-inbox.js";

/**
 * Default polling budget, µs: longer than a partner's answer across loopback TCP here (a hop is
 * 35–75 µs), so a ping-pong or a small collective stays awake between its messages.
 */
export const TCP_SPIN_US = 100;

type RecvNow = (fd: number, into: Uint8Array) => number;

/** The addon's `recvNow`, or null when there is none (then nothing polls). */
export function nativeRecvNow(): RecvNow | null {
  const f = loadNativeAddon().addon?.recvNow;
  return typeof f === "function" ? (f as RecvNow) : null;
}

export class TcpPoller {
  /** Polls that found bytes (stats). */
  hits = 0;

  constructor(
    private readonly inbox: StreamInbox,
    private readonly recvNow: RecvNow,
    /** Budget, µs; 0 never polls. */
    readonly spinUs: number,
    /** Gives up the core for a moment (tests count the calls). */
    private readonly yielder: () => void = yieldCpu,
  ) {}

  /**
   * Receives wait for world ranks `sources` (-1: any): when each is a rank whose TCP connection
   * this rank reads, reads them until `done(i)` holds for every wait or the budget runs out.
   */
  spin(sources: readonly number[], done: (i: number) => boolean): void {
    if (this.spinUs <= 0) return;
    for (let i = 0; i < sources.length; i++) if (sources[i]! < 0 || !this.inbox.pollable(sources[i]!)) return;
    const start = performance.now();
    const end = start + this.spinUs / 1000;
    let yieldAt = firstYield(start);
    for (let k = 1; ; k++) {
      let all = true;
      for (let i = 0; i < sources.length; i++) {
        if (done(i)) continue;
        if (this.inbox.pollFrom(sources[i]!, this.recvNow) > 0) {
          this.hits++;
          if (done(i)) continue;
        }
        all = false;
      }
      if (all) return;
      if ((k & 7) === 0) {
        const now = performance.now();
        if (now >= end) return;
        yieldAt = yieldIfDue(now, yieldAt, this.yielder);
      }
    }
  }
}
