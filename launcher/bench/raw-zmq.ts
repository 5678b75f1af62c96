/**
 * The baseline: the same ping-pong and bandwidth loops over bare zeromq.js sockets, between the
 * same two processes that run zmpi's ranks 0 and 1. It is built like zmpi's own wire (one bound
 * PULL per process, one PUSH to the peer, `[header, payload]` multipart, ipc on one host), minus
 * everything zmpi adds: no envelope encoding, no matching queues, no receipts, no promises per
 * request. Payloads are the caller's typed array handed to zeromq directly, so large messages are
 * zero-copy exactly as zeromq.js allows. `await send()` only means "queued", which is the raw
 * library's contract (zmpi's large sends wait for a receipt so the buffer is reusable; that cost
 * is part of what the ratio shows).
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pull, Push } from "zeromq";

/** Swaps endpoint strings with the peer (the bench uses zmpi's own send/recv for this one exchange). */
export type EndpointExchange = (mine: string) => Promise<string>;

/** A connected pair of bare sockets to one peer process. */
export class RawPair {
  private readonly header = Buffer.alloc(8);
  private seq = 0;

  private constructor(
    private readonly pull: Pull,
    private readonly push: Push,
    /** The endpoint this process bound. */
    readonly endpoint: string,
  ) {}

  /**
   * Binds a PULL (ipc in the temp dir, or tcp on loopback), swaps endpoints with the peer,
   * connects a PUSH and does one hello round trip so the first timed message finds the
   * connection up.
   */
  static async open(initiator: boolean, transport: "ipc" | "tcp", exchange: EndpointExchange): Promise<RawPair> {
    // Same socket settings as zmpi's links where they matter to speed: unbounded queues.
    const pull = new Pull({ receiveHighWaterMark: 0, linger: 0 });
    const push = new Push({ sendHighWaterMark: 0, linger: 1000 });
    const bindTo = transport === "ipc" ? `ipc://${join(tmpdir(), `zmpi-bench-raw-${process.pid}.sock`)}` : "tcp://127.0.0.1:*";
    await pull.bind(bindTo);
    const mine = pull.lastEndpoint ?? bindTo;
    const peer = await exchange(mine);
    push.connect(peer);
    const pair = new RawPair(pull, push, mine);
    const hello = new Uint8Array(1);
    if (initiator) {
      await pair.send(hello);
      await pull.receive();
    } else {
      await pull.receive();
      await pair.send(hello);
    }
    return pair;
  }

  /** Sends `[header, payload]`; the header carries a sequence number like any real protocol would. */
  private send(payload: Uint8Array): Promise<void> {
    // Headers of 128 B or less are copied by zeromq at send time, so one buffer can be reused.
    this.header.writeUInt32LE(this.seq++ >>> 0, 0);
    this.header.writeUInt32LE(payload.byteLength, 4);
    return this.push.send([this.header, payload]);
  }

  /** `n` ping-pongs of `buf`: the initiator sends then waits for the echo; the other side answers. */
  async pingPong(buf: Uint8Array, n: number, initiator: boolean): Promise<void> {
    for (let i = 0; i < n; i++) {
      if (initiator) {
        await this.send(buf);
        await this.pull.receive();
      } else {
        await this.pull.receive();
        await this.send(buf);
      }
    }
  }

  /** `n` bandwidth windows: `window` sends of `buf`, then a 4-byte ack back (OSU bw). */
  async bw(buf: Uint8Array, window: number, n: number, sender: boolean, ack: Uint8Array): Promise<void> {
    for (let i = 0; i < n; i++) {
      if (sender) {
        for (let j = 0; j < window; j++) await this.send(buf);
        await this.pull.receive();
      } else {
        for (let j = 0; j < window; j++) await this.pull.receive();
        await this.send(ack);
      }
    }
  }

  /** Closes both sockets. */
  close(): void {
    this.push.close();
    this.pull.close();
  }
}
