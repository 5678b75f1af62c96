/**
 * Control messages between ranks and the coordinator. They travel as CONTROL-kind frames with a
 * msgpack payload, on the same authenticated (CURVE) sockets as data. A rank's hello carries its
 * public key; the table hands every rank's key to every rank, encrypted on the way.
 */
import { DType } from "../transport/dtype.js";
import { encodeHeader, Kind, valuePackr } from "../transport/frame.js";
import type { CmaToken } from "../transport/cma.js";
import type { PeerEndpoint } from "../transport/zmq-transport.js";

/** Bumped when the control protocol or the wire header changes (2: binary header, cma and stream endpoints; 3: CURVE keys). */
export const PROTOCOL_VERSION = 3;

/** A rank introduces itself. */
export interface HelloMsg {
  type: "hello";
  version: number;
  rank: number;
  size: number;
  job: string;
  nodeName: string;
  hostname: string;
  nodeIndex: number;
  localRank: number;
  pid: number;
  tcp: string;
  ipc: string | null;
  /** The rank's CURVE public key (Z85, 40 characters), drawn at random by the rank. */
  key: string;
  /** Cross-memory attach token (same-machine single-copy transfers), or null. */
  cma?: CmaToken | null;
  /** Same-machine stream socket path, or null. */
  stream?: string | null;
}

/** Everyone is here: the endpoint table. */
interface TableMsg {
  type: "table";
  peers: PeerEndpoint[];
  /** World rank whose process hosts the coordinator. */
  coordinatorRank: number;
}

/** The coordinator refuses this rank (duplicate, size or job mismatch). */
interface RejectMsg {
  type: "reject";
  reason: string;
}

/** The job is going down. `rank` is the failed rank, or -1 when none is to blame (rendezvous deadline). */
export interface AbortMsg {
  type: "abort";
  rank: number;
  reason: string;
  /** Error class to raise on every rank (e.g. "CollectiveMismatchError"), default RankFailedError. */
  errorName?: string;
  /** Ranks the error concerns. */
  ranks?: number[];
}

/**
 * A rank reports a failure it saw: to the coordinator, which spreads it to everyone, and straight
 * to its peers (the coordinator may be what failed), so no rank blames the messenger.
 */
interface FailMsg {
  type: "fail";
  rank: number;
  reason: string;
  errorName?: string;
  ranks?: number[];
}

/** A rank has entered finalize. */
interface ByeMsg {
  type: "bye";
  rank: number;
}

/** Every rank said bye: close now. */
interface FinMsg {
  type: "fin";
}

/** Any control message. */
export type ControlMsg = HelloMsg | TableMsg | RejectMsg | AbortMsg | FailMsg | ByeMsg | FinMsg;

/** Encodes a control message as frames; `src` is the sender's rank, -1 for the coordinator. */
export function controlFrames(src: number, msg: ControlMsg): Buffer[] {
  const body = valuePackr.pack(msg);
  const header = encodeHeader({ comm: 0, src, tag: 0, seq: 0, kind: Kind.CONTROL, dtype: DType.MSGPACK, count: body.length });
  return [header, body];
}

/** Decodes a control payload; null for anything that is not a well-formed control message. */
export function decodeControl(payload: Buffer | null): ControlMsg | null {
  if (!payload) return null;
  let v: unknown;
  try {
    v = valuePackr.unpack(payload);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const t = (v as { type?: unknown }).type;
  if (t === "hello") {
    const h = v as Partial<HelloMsg>;
    const ints = [h.rank, h.size, h.nodeIndex, h.localRank, h.pid, h.version];
    if (!ints.every((x) => Number.isInteger(x))) return null;
    if (typeof h.job !== "string" || typeof h.nodeName !== "string" || typeof h.tcp !== "string") return null;
    if (typeof h.key !== "string" || !/^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/.test(h.key)) return null;
    if (typeof h.hostname !== "string" || !(h.ipc === null || typeof h.ipc === "string")) return null;
    if (h.cma != null && (typeof h.cma !== "object" || !Number.isSafeInteger(h.cma.address) || typeof h.cma.token !== "string")) return null;
    if (h.stream != null && typeof h.stream !== "string") return null;
    return v as HelloMsg;
  }
  if (t === "table") return Array.isArray((v as TableMsg).peers) ? (v as TableMsg) : null;
  if (t === "reject") return typeof (v as RejectMsg).reason === "string" ? (v as RejectMsg) : null;
  if (t === "abort" || t === "fail") {
    const a = v as AbortMsg;
    return Number.isInteger(a.rank) && typeof a.reason === "string" ? (v as AbortMsg | FailMsg) : null;
  }
  if (t === "bye") return Number.isInteger((v as ByeMsg).rank) ? (v as ByeMsg) : null;
  if (t === "fin") return v as FinMsg;
  return null;
}
