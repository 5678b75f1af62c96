/**
 * The interface every transport offers the communicator layer. The ZeroMQ transport is the real
 * one; the in-memory transport runs the same algorithms at hundreds of ranks in one process.
 */
import type { Envelope } from "./frame.js";

/** Header fields the caller fills; the transport adds `src` and `seq`. */
export type OutboundEnvelope = Omit<Envelope, "src" | "seq">;

/**
 * A payload still in the sender's memory (same machine, cross-memory attach). Read it whole or in
 * pieces, then `release()` it exactly once (also when it is not read at all): that frees the
 * sender's buffer.
 */
export interface RemotePayload {
  /** Size of the payload in bytes. */
  readonly byteLength: number;
  /** Copies `dest.byteLength` bytes, starting `byteOffset` bytes into the payload, into `dest`; throws if the read fails. */
  read(dest: Uint8Array, byteOffset?: number): void;
  /** Lets the sender go. */
  release(): void;
}

/**
 * Receives every validated inbound message (acks and control are handled inside). `remote` is set,
 * and `payload` null, when the bytes are to be copied out of the sender's memory.
 */
export type MessageHandler = (env: Envelope, payload: Buffer | null, remote?: RemotePayload) => void;

/**
 * Asked by a stream reader when a message's header is here and its bytes are still coming: the
 * memory of the receive that will take it (exactly `byteLength` bytes), to read them straight into,
 * or null. `revoke` is called if that receive ends without the message before it is delivered: the
 * reader must then stop writing there (see MatchQueue.lend).
 */
export type LendHandler = (env: Envelope, byteLength: number, revoke: () => void) => Uint8Array | null;

/** Told when a peer is known to be gone (connection lost, or the coordinator said so). */
export type FailureHandler = (rank: number, reason: string) => void;

/** Where a peer is: this process, another process on the same node (ipc), another node (tcp). */
export type PeerKind = "self" | "node" | "remote";

/** Traffic with one kind of peer. */
interface TrafficCounters {
  messagesSent: number;
  bytesSent: number;
  messagesReceived: number;
  bytesReceived: number;
}

/** Counters a transport keeps for metrics and for the stranger/garbage checks. */
export interface TransportStats {
  /** Messages and payload bytes sent, and received. */
  messagesSent: number;
  bytesSent: number;
  messagesReceived: number;
  bytesReceived: number;
  /** Inbound messages dropped because they failed validation. */
  malformedDropped: number;
  /** Connections to this rank's ports and socket refused at the handshake (unknown key, not ZMTP, not CURVE, failed challenge). */
  refusedConnections: number;
  /** Connections the coordinator service refused (0 unless this process hosts it). */
  refusedByCoordinator: number;
  /** The same traffic split by where the peer is. */
  byPeerKind: Record<PeerKind, TrafficCounters>;
  /** Messages received by copying straight out of the sender's memory (cross-memory attach), and their bytes. */
  singleCopyReceived: number;
  singleCopyBytes: number;
  /** Messages read from same-node peers' shared-memory rings, and doorbells this rank rang (shm-channel.ts). */
  sharedMemoryReceived: number;
  doorbellsRung: number;
  /** Messages a stream connection read straight into the `out` array of the receive that took them. */
  receivedInPlace: number;
  /** Of those begun so, messages moved off the array because its receive ended first (deadline, failure, freed communicator). */
  inPlaceTakenBack: number;
  /** Polls of a TCP connection from another node, by a waiting receive, that found bytes (tcp-poll.ts). */
  tcpPollHits: number;
}

/** What the communicator layer needs from a transport. */
export interface Transport {
  /** This process's world rank. */
  readonly rank: number;
  /** World size. */
  readonly size: number;
  /**
   * Sends to a world rank. With `zeroCopy`, the payload's memory is handed to the transport and the
   * promise resolves once the receiver has it (the buffer is then safe to reuse); otherwise the
   * payload must already be a private copy and the promise resolves when it is queued.
   */
  send(dest: number, env: OutboundEnvelope, payload: Uint8Array | null, zeroCopy: boolean): Promise<void>;
  /** Installs the inbound handler. */
  onMessage(handler: MessageHandler): void;
  /** Installs the peer-failure handler. */
  onFailure(handler: FailureHandler): void;
  /** Counters. */
  stats(): TransportStats;
  /** Closes every socket; pending sends reject. */
  close(): Promise<void>;
  /** Lets a stream transport read payloads straight into posted receives (see {@link LendHandler}). */
  onLend?(handler: LendHandler): void;
  /** Peers this rank sends large arrays to by cross-memory attach (none if the transport has no such path). */
  singleCopyPeers?(): number[];
  /**
   * Receives wait for world ranks `sources` (-1: any): poll for a moment for messages that need no
   * event-loop turn (shared memory), returning once `done(i)` holds for each wait that such a
   * message could end, or the budget is spent. Neither argument is kept: the caller may reuse
   * them for its next turn, and `done` answers only during the call.
   */
  spin?(sources: readonly number[], done: (i: number) => boolean): void;
}

function emptyTraffic(): TrafficCounters {
  return { messagesSent: 0, bytesSent: 0, messagesReceived: 0, bytesReceived: 0 };
}

/** Fresh zeroed counters. */
export function emptyStats(): TransportStats {
  return {
    ...emptyTraffic(),
    malformedDropped: 0,
    refusedConnections: 0,
    refusedByCoordinator: 0,
    singleCopyReceived: 0,
    singleCopyBytes: 0,
    sharedMemoryReceived: 0,
    doorbellsRung: 0,
    receivedInPlace: 0,
    inPlaceTakenBack: 0,
    tcpPollHits: 0,
    byPeerKind: { self: emptyTraffic(), node: emptyTraffic(), remote: emptyTraffic() },
  };
}

/** Counts one message in the totals and under its peer kind. */
export function countTraffic(stats: TransportStats, kind: PeerKind, dir: "sent" | "received", bytes: number): void {
  const k = stats.byPeerKind[kind];
  if (dir === "sent") {
    stats.messagesSent++;
    stats.bytesSent += bytes;
    k.messagesSent++;
    k.bytesSent += bytes;
  } else {
    stats.messagesReceived++;
    stats.bytesReceived += bytes;
    k.messagesReceived++;
    k.bytesReceived += bytes;
  }
}

/** A deep copy of the counters (callers may keep it). */
export function copyStats(s: TransportStats): TransportStats {
  return { ...s, byPeerKind: { self: { ...s.byPeerKind.self }, node: { ...s.byPeerKind.node }, remote: { ...s.byPeerKind.remote } } };
}
