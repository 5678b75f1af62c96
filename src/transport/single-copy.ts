/**
 * The receiving side of a single-copy message: a {@link RemotePayload} whose reads copy straight
 * out of the sender's memory (cma.ts) and whose release sends the receipt that frees the sender's
 * array. Reads after the release, or outside the message, are refused.
 */
import { RankFailedError, ZmpiError } from "../errors.js";
import { readRemote } from "./cma.js";
import type { RemotePayload } from "./transport.js";

/** Where the bytes are and what to do when they have been read. */
interface RemoteSource {
  /** Sender's world rank and process id. */
  src: number;
  pid: number;
  /** The sender's sequence number of the message (for errors). */
  seq: number;
  /** Address of the payload in the sender. */
  address: number;
  byteLength: number;
  /** Sends the receipt; `read` says whether any byte was copied. Called once. */
  release(read: boolean): void;
}

/** A payload still in the sender's memory. */
export function remotePayload(s: RemoteSource): RemotePayload {
  let released = false;
  let read = false;
  return {
    byteLength: s.byteLength,
    read(dest, byteOffset = 0) {
      if (released) throw new ZmpiError(`message ${s.seq} from rank ${s.src} was already released`);
      if (byteOffset < 0 || byteOffset + dest.byteLength > s.byteLength) {
        throw new RangeError(`single-copy read of [${byteOffset}, ${byteOffset + dest.byteLength}) from a ${s.byteLength}-byte message`);
      }
      try {
        readRemote(s.pid, s.address + byteOffset, dest);
      } catch (e) {
        throw new RankFailedError(`could not copy a ${s.byteLength}-byte message out of rank ${s.src} (pid ${s.pid}): ${(e as Error).message}`, { ranks: [s.src], op: "recv" });
      }
      read = true;
    },
    release() {
      if (released) return;
      released = true;
      s.release(read);
    },
  };
}
