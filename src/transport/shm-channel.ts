/**
 * The same-node channel: messages between ranks on one machine through shared memory, in about a
 * microsecond, where the Unix socket costs ~20 µs a hop (a system call, the kernel, and waking
 * Node's event loop on the other side). Open MPI's vader and MPICH's ch4 POSIX shared memory do
 * the same, and for the same reason.
 *
 * Each rank owns one segment holding a ring (shm-ring.ts) for every same-node peer that sends to
 * it. It offers each peer that peer's ring over the peer's authenticated stream socket; the peer
 * fetches the segment with pidfd_getfd (shm-segment.ts: the kernel's ptrace rule, the rule of
 * single copy), checks the token the offer named, and from then on writes small messages into its
 * ring instead of the socket. Anything that does not fit (a full ring, a large message) still goes
 * by the socket, and the receiver's per-peer ordering (in-order.ts) puts it back in send order.
 *
 * Waking the reader. A rank waiting in a receive polls its rings for a short, bounded time
 * (`ZMPI_SHM_SPIN_US`); the event loop cannot be woken faster than that. When it stops polling it
 * arms its doorbell flag and polls once more; a writer that finds the flag armed clears it and
 * rings the bell, one empty frame over the socket, which wakes the event loop. The flag is
 * written with sequentially consistent atomics on both sides (a store, then a load of the other
 * side's word), so a message is never left unseen: either the writer sees the flag armed, or the
 * reader's last poll sees the message. An idle rank sleeps in the event loop, using no CPU.
 *
 * Segment layout: +0 magic, +4 version, +8 ring count, +16 token (16 bytes), +64 the doorbell
 * flag (its own cache line), +128 the rings, each {@link ringBytes}(capacity) bytes.
 */
import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { announcedPayload, decodeHeader, type Envelope, encodeHeaderInto, headerBytes } from "./frame.js";
import { firstYield, pollBudget, yieldCpu, yieldIfDue } from "./poll-budget.js";
import { type Offer, parseOffer } from "./shm-offer.js";
import { maxRecordBody, RingReader, RingWriter, ringBytes } from "./shm-ring.js";

/** Each ring's data bytes: records up to an eighth (8 KiB) go inline, and several in flight. */
export const SHM_RING_CAPACITY = 64 * 1024;
/**
 * Default polling budget of a waiting receive, µs. It must outlast a doorbell's wake-up (the
 * event loop, 20–50 µs here): a rank that missed its partner's message sleeps, is woken late,
 * answers late, and then its partner has stopped polling too — unless the budget covers that, the
 * pair stays out of step and every message rings (measured, 2 ranks: with 30 µs, batches of 8 B
 * ping-pongs at 8–11 µs or at 60–190 µs, by luck).
 */
export const SHM_SPIN_US = 100;

/** A poll's budget grows, after polls that ran out, to at most this many times the setting. */
const MAX_BUDGET_FACTOR = 10;

/** Up to this many peers, rings are offered right after rendezvous; beyond, at a peer's first message (as single copy does). */
export const EAGER_RING_PEERS = 7;

const MAGIC = 0x5a4d5348; // "ZMSH"
const VERSION = 1;
const HEADER_BYTES = 128;
const ARMED_WORD = 16; // byte 64, in i32 words

/** What the channel needs from the native addon (shm-segment.ts; tests pass shared memory of their own). */
export interface SegmentSource {
  /** A fresh segment of `bytes`, and the descriptor peers fetch it by. */
  create(bytes: number): { fd: number; buffer: ArrayBuffer | SharedArrayBuffer };
  /** Process `pid`'s segment behind its descriptor `fd`, mapped here; throws why not. */
  attach(pid: number, fd: number, bytes: number): ArrayBuffer | SharedArrayBuffer;
  /** Unmaps a segment now. */
  release(buffer: ArrayBuffer | SharedArrayBuffer): void;
  /** Closes this process's own descriptor of its segment. */
  closeFd(fd: number): void;
  /** Lets the peers (by pid) fetch this process's segment where Yama restricts ptrace (ptrace-scope.ts). */
  permit?(peerPids: number[]): void;
}

/** What the channel needs from the transport. */
export interface ChannelHost {
  readonly rank: number;
  readonly size: number;
  /** Sends `offer` (a ring offer, JSON) to `peer` over its authenticated stream socket. */
  offer(peer: number, offer: string): void;
  /** Rings `peer`'s doorbell: an empty frame over its stream socket. */
  bell(peer: number): void;
  /** A message read from `peer`'s ring (the payload is a private copy). */
  deliver(env: Envelope, payload: Buffer | null): void;
  /** `peer`'s ring holds something that is not a message: nothing after it can be trusted. */
  broken(peer: number, why: string): void;
}

interface Outbound {
  buffer: ArrayBuffer | SharedArrayBuffer;
  writer: RingWriter;
  armed: Int32Array;
  /**
   * The number of the last message to this peer that went by the socket, while the peer has not
   * yet delivered it; null when the ring may be used.
   */
  bySocket: number | null;
}

/** One rank's side of the channel: its own segment (inbound rings) and the peers' it writes to. */
export class ShmChannel {
  #segment: { fd: number; buffer: ArrayBuffer | SharedArrayBuffer } | null = null;
  #armed: Int32Array | null = null;
  #token = "";
  readonly #offers = new Map<number, Offer>();
  readonly #inbound = new Map<number, RingReader>();
  /** The inbound rings as an array, for the poll loop. */
  #readers: Inbound[] = [];
  readonly #outbound = new Map<number, Outbound>();
  /** Peers offered a ring at their first message (many peers). */
  readonly #lazy = new Set<number>();
  #closed = false;
  #dieInWrite = false;
  /** The polling budget in force, µs (see the constructor). */
  spinUs = 0;
  /** Why a peer's offer could not be taken, by peer (diagnostics). */
  readonly refused = new Map<number, string>();

  constructor(
    private readonly host: ChannelHost,
    private readonly segments: SegmentSource,
    /**
     * Polling budget of a waiting receive, µs (0: never poll, sleep at once; `ZMPI_SHM_SPIN_US`).
     * Unset: {@link SHM_SPIN_US}, or 0 when this machine has more of the job's ranks than cores
     * (decided in {@link start}).
     */
    private readonly spinSetting: number | undefined,
    readonly capacity = SHM_RING_CAPACITY,
    /** Gives up the core for a moment while polling (tests count the calls). */
    private readonly yielder: () => void = yieldCpu,
  ) {}

  /**
   * Makes this rank's segment with a ring for each same-node peer, and offers them: now (up to
   * `eagerMax` peers) or at each peer's first message. Throws if the segment cannot be made.
   */
  start(candidates: ReadonlyArray<{ rank: number; pid: number }>, eagerMax = EAGER_RING_PEERS, cores = availableParallelism()): void {
    if (candidates.length === 0 || this.#segment) return;
    this.spinUs = pollBudget(this.spinSetting, SHM_SPIN_US, candidates.length + 1, cores);
    this.#budget = this.spinUs;
    const peers = candidates.map((c) => c.rank);
    const one = ringBytes(this.capacity);
    const bytes = HEADER_BYTES + peers.length * one;
    const seg = this.segments.create(bytes);
    this.#segment = seg;
    this.#token = randomBytes(16).toString("hex");
    const words = new DataView(seg.buffer);
    words.setUint32(0, MAGIC, true);
    words.setUint32(4, VERSION, true);
    words.setUint32(8, peers.length, true);
    Buffer.from(seg.buffer, 16, 16).set(Buffer.from(this.#token, "hex"));
    this.#armed = new Int32Array(seg.buffer, 0, HEADER_BYTES / 4);
    Atomics.store(this.#armed, ARMED_WORD, 1);
    peers.forEach((peer, i) => {
      const offset = HEADER_BYTES + i * one;
      this.#inbound.set(peer, new RingReader(seg.buffer, offset, this.capacity));
      this.#offers.set(peer, { fd: seg.fd, bytes, offset, capacity: this.capacity, token: this.#token });
    });
    this.#listReaders();
    this.segments.permit?.(candidates.map((c) => c.pid));
    for (const peer of peers) {
      if (peers.length <= eagerMax) this.#offer(peer);
      else this.#lazy.add(peer);
    }
  }

  #offer(peer: number): void {
    const o = this.#offers.get(peer);
    if (o) this.host.offer(peer, JSON.stringify(o));
  }

  /** A message came from `peer` over its authenticated socket: offer its ring if not yet done. */
  contact(peer: number): void {
    if (this.#lazy.delete(peer)) this.#offer(peer);
  }

  /**
   * `peer` (process `pid`) offered this rank a ring, over its authenticated socket. Maps it and
   * checks the token; false (and the reason in {@link refused}) when it cannot be used.
   * `lastSent` is the number of the last message already sent to the peer by the socket (-1:
   * none): the ring is used once the peer has delivered it.
   */
  accept(peer: number, pid: number, text: string, lastSent = -1): boolean {
    if (this.#closed || this.#outbound.has(peer)) return false;
    let buffer: ArrayBuffer | SharedArrayBuffer | null = null;
    try {
      const o = parseOffer(text, this.capacity, HEADER_BYTES);
      buffer = this.segments.attach(pid, o.fd, o.bytes);
      const view = new DataView(buffer);
      if (view.getUint32(0, true) !== MAGIC || view.getUint32(4, true) !== VERSION) throw new Error("not a zmpi segment");
      if (Buffer.from(buffer, 16, 16).toString("hex") !== o.token) throw new Error("the segment's token is not the one offered");
      const writer = new RingWriter(buffer, o.offset, o.capacity);
      this.#outbound.set(peer, { buffer, writer, armed: new Int32Array(buffer, 0, HEADER_BYTES / 4), bySocket: lastSent >= 0 ? lastSent : null });
      return true;
    } catch (e) {
      if (buffer) this.segments.release(buffer);
      this.refused.set(peer, (e as Error).message);
      return false;
    }
  }

  /** True when this rank writes to `peer` through its ring. */
  sendsTo(peer: number): boolean {
    return this.#outbound.has(peer);
  }

  /** True when `peer` may write to this rank through a ring. */
  receivesFrom(peer: number): boolean {
    return this.#inbound.has(peer);
  }

  /**
   * Writes message number `seq` (-1: a receipt or other unnumbered frame, which no order binds),
   * its header encoded from `env`, into `peer`'s ring and rings its bell if it sleeps. False, with
   * nothing written, when there is no ring, the message is too large for one, the ring is full,
   * or an earlier message went by the socket and the peer has not delivered it yet: the caller
   * sends it by the socket (and tells {@link sentBySocket}).
   *
   * That last rule bounds what the reader holds. Its messages from one writer are delivered in
   * number order whichever way they came (in-order.ts); a message stuck in the socket — the
   * writer's loop never yields, so Node never flushes it — would make it hold every later ring
   * message, thousands, until it drops one (found by a flood of 60k sends). Staying on the socket
   * until the reader's mark (the next number it delivers, published in the ring) has passed it
   * keeps the two paths from overtaking each other by more than one ring.
   */
  trySend(peer: number, seq: number, env: Envelope, payload: Uint8Array | null): boolean {
    const out = this.#outbound.get(peer);
    if (!out) return false;
    const writer = out.writer;
    const h = headerBytes(env);
    const body = h + (payload ? payload.byteLength : 0);
    if (body > writer.maxBody) return false;
    if (out.bySocket !== null && seq >= 0) {
      if (((writer.mark() - out.bySocket - 1) | 0) < 0) return false;
      out.bySocket = null;
    }
    // The header is encoded where the reader will find it: no Buffer of its own, no second copy.
    const at = writer.reserve(h, body);
    if (at >= 0) encodeHeaderInto(env, writer.data, at);
    if (this.#dieInWrite) process.kill(process.pid, "SIGKILL"); // half a record, never published
    if (at < 0) return false;
    if (payload) writer.data.set(payload, at + h);
    writer.publish();
    if (Atomics.load(out.armed, ARMED_WORD) === 1 && Atomics.compareExchange(out.armed, ARMED_WORD, 1, 0) === 1) this.host.bell(peer);
    return true;
  }

  /** Message number `seq` to `peer` went by the socket: later ones follow it there until it is delivered. */
  sentBySocket(peer: number, seq: number): void {
    const out = this.#outbound.get(peer);
    if (out) out.bySocket = seq;
  }

  /** This rank delivered `peer`'s messages up to number `seq`: publishes the mark its writer waits for. */
  delivered(peer: number, seq: number): void {
    this.#inbound.get(peer)?.setMark(seq + 1);
  }

  /** Largest message body (header and payload) a ring carries. */
  get maxBody(): number {
    return maxRecordBody(this.capacity);
  }

  /** Reads everything waiting in every inbound ring; returns how many messages. */
  poll(): number {
    let n = 0;
    const readers = this.#readers;
    for (let i = 0; i < readers.length; i++) {
      const { peer, reader, take } = readers[i]!;
      if (!reader.hasData()) continue;
      try {
        n += reader.drain(take);
      } catch (e) {
        if (!(e instanceof RingRecordError)) throw e;
        this.#fault(peer, e.message);
        continue;
      }
      if (reader.fault !== null) this.#fault(peer, reader.fault);
    }
    return n;
  }

  /** One record, `data[at, at + body)` with a header of `header` bytes, read where it lies in the ring. */
  #take(peer: number, data: Buffer, at: number, header: number, body: number): void {
    let payloadBytes = body > header ? body - header : -1;
    if (payloadBytes < 0) {
      // An empty array has a payload of no bytes: the record cannot tell it from none, the header can.
      const a = announcedPayload(data, at, header);
      if ("bytes" in a && a.bytes === 0) payloadBytes = 0;
    }
    const env = decodeHeader(data, at, header, payloadBytes, this.host.size);
    if ("error" in env) throw new RingRecordError(env.error);
    if (env.src !== peer) throw new RingRecordError(`a message in rank ${peer}'s ring names rank ${env.src} as its sender`);
    let copy: Buffer | null = null;
    if (payloadBytes >= 0) {
      // A private copy, made before the ring space is freed: the handler may keep it for as long as it likes.
      copy = Buffer.allocUnsafeSlow(payloadBytes);
      data.copy(copy, 0, at + header, at + body);
    }
    this.host.deliver(env, copy);
  }

  #fault(peer: number, why: string): void {
    this.#forgetInbound(peer);
    this.host.broken(peer, why);
  }

  /**
   * Receives wait for messages from world ranks `sources` (-1: any): polls the rings until
   * `done(i)` holds for every wait a ring could end, or the budget runs out, then arms the
   * doorbell. Does nothing when no ring could end any of them. `atLeastUs`: poll at least this
   * long whatever the budget (a receipt's wait, which lasts as long as the peer's copy).
   */
  spin(sources: readonly number[], done: (i: number) => boolean, atLeastUs = 0): void {
    if (this.spinUs <= 0 || this.#readers.length === 0) return;
    // The waits a ring could end, by index; null: the one wait of `sources` (most turns have a
    // single receive: it allocates nothing).
    let mine: number[] | null = null;
    if (sources.length === 1) {
      if (sources[0]! >= 0 && !this.#inbound.has(sources[0]!)) return;
    } else {
      mine = [];
      for (let i = 0; i < sources.length; i++) if (sources[i]! < 0 || this.#inbound.has(sources[i]!)) mine.push(i);
      if (mine.length === 0) return;
    }
    if (allDone(mine, done)) return;
    Atomics.store(this.#armed!, ARMED_WORD, 0);
    let now = performance.now();
    const end = now + Math.max(this.#budget, atLeastUs) / 1000;
    let yieldAt = firstYield(now);
    for (let i = 1; ; i++) {
      this.poll();
      if (allDone(mine, done)) {
        // Found: the caller's code runs on, likely into another receive soon. Writers that write
        // meanwhile need not ring: the doorbell is armed when this turn of the event loop ends.
        this.#armLater();
        this.#budget = Math.max(this.spinUs, this.#budget / 2);
        return;
      }
      if ((i & 15) === 0) {
        now = performance.now();
        if (now >= end) break;
        yieldAt = yieldIfDue(now, yieldAt, this.yielder);
      }
    }
    this.#budget = Math.min(this.spinUs * MAX_BUDGET_FACTOR, this.#budget * 2);
    this.sleep();
  }

  /**
   * The budget of the next poll: doubled after one that ran out, halved back towards
   * {@link spinUs} after one that found its message. A partner that answers late — woken by the
   * doorbell on a busy machine, 100 µs and more — is then met by a longer poll, and the pair
   * falls back in step instead of ringing for every message.
   */
  #budget = 0;

  /**
   * Arms the doorbell, then polls once more (a message written just before is read now, not lost).
   * Called when this rank goes idle, and when a bell came.
   */
  sleep(): void {
    if (!this.#armed) return;
    Atomics.store(this.#armed, ARMED_WORD, 1);
    this.poll();
  }

  #armPending: NodeJS.Immediate | null = null;

  /**
   * Arms the doorbell at the end of this event-loop turn (the check phase, before the loop may
   * block), not now: in a run of receives that polling satisfies, from a collective or a loop of
   * them, the peers' messages mostly come while this rank is between two polls, and every one
   * would ring (measured, 2 ranks, back-to-back barriers: 34k bells for 50k messages, each a
   * socket write for the writer and a wake-up for the reader).
   */
  #armLater(): void {
    this.#armPending ??= setImmediate(() => {
      this.#armPending = null;
      this.sleep();
    });
  }

  /** Stops using `peer`'s rings both ways (it is gone). */
  forget(peer: number): void {
    this.#forgetInbound(peer);
    const out = this.#outbound.get(peer);
    if (out) {
      this.#outbound.delete(peer);
      this.segments.release(out.buffer);
    }
  }

  #forgetInbound(peer: number): void {
    if (this.#inbound.delete(peer)) this.#listReaders();
    this.#lazy.delete(peer);
  }

  #listReaders(): void {
    this.#readers = [...this.#inbound].map(([peer, reader]) => ({
      peer,
      reader,
      take: (data: Buffer, at: number, header: number, body: number) => this.#take(peer, data, at, header, body),
    }));
  }

  /**
   * For fault tests only: the next message to a ring is written halfway and the process then
   * kills itself, as a rank dying in the middle of a write would.
   * @internal
   */
  dieInNextWrite(): void {
    this.#dieInWrite = true;
  }

  /** Unmaps everything and closes this rank's segment descriptor. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#armPending) clearImmediate(this.#armPending);
    for (const peer of [...this.#outbound.keys()]) this.forget(peer);
    this.#inbound.clear();
    this.#readers = [];
    this.#lazy.clear();
    if (this.#segment) {
      this.segments.closeFd(this.#segment.fd);
      this.segments.release(this.#segment.buffer);
      this.#segment = null;
      this.#armed = null;
    }
  }
}

/** An inbound ring, its peer, and what reads its records (made once: a poll allocates nothing). */
interface Inbound {
  peer: number;
  reader: RingReader;
  take: (data: Buffer, at: number, header: number, body: number) => void;
}

/** True when `done` holds for every wait in `mine` (null: the one wait, 0). */
function allDone(mine: readonly number[] | null, done: (i: number) => boolean): boolean {
  if (mine === null) return done(0);
  for (let k = 0; k < mine.length; k++) if (!done(mine[k]!)) return false;
  return true;
}

/** A record that decoded wrong: the ring is treated as broken. */
class RingRecordError extends Error {}
