/**
 * Shared-memory segments between processes on one machine (issue 15): the memory that the
 * same-machine channel's rings live in, created and mapped by the native addon (native/zmpi_shm.c)
 * and seen here as ArrayBuffers. This module only makes, shares and unmaps memory; the rings and
 * who may attach to whom are the channel's business.
 *
 * Each process creates its segment with `memfd_create`: no name in any filesystem, so a crash
 * leaves nothing behind (the kernel frees the memory when the last mapping goes, /dev/shm stays
 * empty). A peer maps it by process id and descriptor number (`pidfd_getfd`), which the kernel
 * allows only with ptrace-attach permission on the owner: the same rule as single copy (cma.ts),
 * so under Yama ptrace_scope = 1 the owner must first name a tracer (cma.ts `allowReader`). The
 * memfd has mode 0, so the other way in, opening /proc/<pid>/fd/<n> (ptrace *read* permission
 * only), is refused even to the same user; its size is sealed, so no peer can shrink it under
 * another's mapping (SIGBUS). A mapping stays valid after the owner exits or is killed.
 *
 * The buffers are plain (not shared) ArrayBuffers over shared memory: `Atomics.load/store/add`
 * work on Int32Array views of them; `Atomics.wait` does not (it needs a SharedArrayBuffer).
 */
import { UsageError, ZmpiError } from "../errors.js";
import { allowTracer, loadNativeAddon } from "./native-addon.js";
import { chooseReader } from "./ptrace-scope.js";
import type { SegmentSource } from "./shm-channel.js";

/** The part of the addon this module uses (zmpi_shm.c). */
interface NativeShm {
  shmCreate(bytes: number): { fd: number; buffer: ArrayBuffer };
  shmAttach(pid: number, fd: number, bytes: number): ArrayBuffer;
  shmRelease(buffer: ArrayBuffer): void;
  closeFd(fd: number): void;
}

/** A segment this process created: its descriptor (peers fetch it by this number) and its mapping. */
export interface Segment {
  /** The memfd, open in this process until {@link closeSegmentFd}; peers pass it to {@link attachSegment}. */
  fd: number;
  /** The whole segment, read-write, shared with every process that attached it. */
  buffer: ArrayBuffer;
}

/** A segment operation the kernel refused; `code` is the errno name ("EPERM", "ESRCH", "EBADF", ...). */
export class SegmentError extends ZmpiError {
  /** The errno name from the addon, or "EINVAL" for a segment of the wrong size or without seals. */
  readonly code: string;
  constructor(message: string, code: string, op: string) {
    super(message, { op });
    this.code = code;
  }
}

/** Larger is surely a mistake (the addon's own limit, 2^40 bytes). */
const MAX_BYTES = 2 ** 40;
/** Process ids and descriptors are C ints. */
const MAX_INT32 = 2 ** 31 - 1;
/** The self-test segment: one page. */
const PROBE_BYTES = 4096;

const FUNCTIONS = ["shmCreate", "shmAttach", "shmRelease", "closeFd"] as const;

let native: NativeShm | null = null;
let why: string | null | undefined;

/**
 * Whether this process can make and attach segments: null if so, else why not (for `zmpi info` and
 * for falling back to the socket path). Decided once, by creating a one-page segment and attaching
 * it to this same process, which runs every system call a real attach does (memfd_create,
 * pidfd_open, pidfd_getfd; Linux 5.6+). Whether a given peer may attach is still up to the kernel.
 *
 * @example
 * const reason = shmUnavailable();
 * if (reason) console.log(`shared-memory channel off: ${reason}`);
 */
export function shmUnavailable(): string | null {
  if (why !== undefined) return why;
  why = probe();
  return why;
}

function probe(): string | null {
  if (process.platform !== "linux") return `shared-memory segments are Linux-only (this is ${process.platform})`;
  const { addon, reason } = loadNativeAddon();
  if (!addon) return reason;
  const missing = FUNCTIONS.filter((f) => typeof addon[f] !== "function");
  if (missing.length > 0) return `the native addon is older than this zmpi (no ${missing.join(", ")}): rebuild it (npm run build:native)`;
  const n = addon as unknown as NativeShm;
  try {
    const own = n.shmCreate(PROBE_BYTES);
    try {
      n.shmRelease(n.shmAttach(process.pid, own.fd, PROBE_BYTES));
    } finally {
      n.shmRelease(own.buffer);
      n.closeFd(own.fd);
    }
  } catch (e) {
    return `the kernel refused a segment attached to this process itself: ${(e as Error).message}`;
  }
  native = n;
  return null;
}

function shm(op: string): NativeShm {
  const reason = shmUnavailable();
  if (reason !== null || !native) throw new ZmpiError(`shared-memory segments are unavailable: ${reason}`, { op });
  return native;
}

/** Throws a UsageError unless `value` is a whole number in [min, max]. */
function checkWhole(name: string, value: number, min: number, max: number, op: string): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new UsageError(`${name} must be a whole number from ${min} to ${max}, not ${value}`, { op });
}

function kernelError(e: unknown, message: string, op: string): SegmentError {
  const err = e as Error & { code?: unknown };
  return new SegmentError(`${message}: ${err.message}`, typeof err.code === "string" ? err.code : "EUNKNOWN", op);
}

/**
 * Creates this process's segment of exactly `bytes` bytes, zero-filled, mapped read-write. Its
 * descriptor stays open so peers can attach: publish `{ pid: process.pid, fd, bytes }` to them.
 *
 * @example
 * const seg = createSegment(1 << 20);
 * const head = new Int32Array(seg.buffer, 0, 16);
 * Atomics.store(head, 0, 1);
 */
export function createSegment(bytes: number): Segment {
  const op = "shm create";
  checkWhole("bytes", bytes, 1, MAX_BYTES, op);
  const n = shm(op);
  try {
    return n.shmCreate(bytes);
  } catch (e) {
    throw kernelError(e, `cannot create a shared-memory segment of ${bytes} bytes`, op);
  }
}

/**
 * Maps the segment that process `pid` created as descriptor `fd`. Checks that it is sealed and
 * exactly `bytes` long. Needs ptrace-attach permission on `pid` (same user and, under Yama
 * ptrace_scope = 1, named by `pid` as a tracer); the mapping outlives `pid`.
 *
 * @throws {SegmentError} naming pid, fd and the reason, with the errno's `code` (EPERM: not
 *   permitted; ESRCH: no such process; EBADF: no such descriptor; EINVAL: wrong size or unsealed).
 * @example
 * const ring = attachSegment(peer.pid, peer.fd, peer.bytes);
 * new Uint8Array(ring)[0] = 1; // seen by the owner at once
 */
export function attachSegment(pid: number, fd: number, bytes: number): ArrayBuffer {
  const op = "shm attach";
  checkWhole("pid", pid, 1, MAX_INT32, op);
  checkWhole("fd", fd, 0, MAX_INT32, op);
  checkWhole("bytes", bytes, 1, MAX_BYTES, op);
  const n = shm(op);
  try {
    return n.shmAttach(pid, fd, bytes);
  } catch (e) {
    throw kernelError(e, `cannot map the segment of pid ${pid} (fd ${fd}, ${bytes} bytes)`, op);
  }
}

/**
 * Unmaps a buffer from {@link createSegment} or {@link attachSegment} now, instead of at garbage
 * collection: the buffer is detached (byteLength 0, every view over it empty). Releasing it again
 * does nothing; other processes' mappings are untouched.
 *
 * @example
 * releaseSegment(ring);
 * ring.byteLength; // 0
 */
export function releaseSegment(buffer: ArrayBuffer): void {
  const op = "shm release";
  if (!(buffer instanceof ArrayBuffer)) throw new UsageError("expected the ArrayBuffer of a segment", { op });
  const n = shm(op);
  try {
    n.shmRelease(buffer);
  } catch (e) {
    if (e instanceof TypeError) throw new UsageError(`not a buffer from createSegment or attachSegment (${buffer.byteLength} bytes)`, { op });
    throw kernelError(e, "cannot unmap the segment", op);
  }
}

/**
 * Closes the descriptor of this process's segment (at shutdown): no peer can attach after this,
 * and the memory is freed when the last mapping goes.
 *
 * @example
 * closeSegmentFd(seg.fd);
 */
export function closeSegmentFd(fd: number): void {
  const op = "shm close";
  checkWhole("fd", fd, 0, MAX_INT32, op);
  const n = shm(op);
  try {
    n.closeFd(fd);
  } catch (e) {
    throw kernelError(e, `cannot close segment fd ${fd}`, op);
  }
}

/**
 * The segments of the same-node channel (shm-channel.ts) from this module, or null when this
 * process cannot make them (then same-node messages stay on the socket). `permit` names the
 * process allowed to fetch this one's segment where Yama asks for one (ptrace-scope.ts), as
 * single copy does.
 */
export function nativeSegments(): SegmentSource | null {
  if (shmUnavailable() !== null) return null;
  return {
    create: createSegment,
    attach: attachSegment,
    release: (buffer) => releaseSegment(buffer as ArrayBuffer),
    closeFd: closeSegmentFd,
    permit(peerPids) {
      const reader = chooseReader(peerPids);
      if (reader) allowTracer(reader.pid);
    },
  };
}
