/**
 * Cross-memory attach (Linux): a receiver on the same machine copies a large message straight out
 * of the sender's memory, once, instead of twice through the loopback TCP stack. The native part
 * (native/zmpi_native.c, built by `npm install`) is three functions; everything else, including
 * the check that a peer may be read at all, lives on the JavaScript side.
 *
 * A peer is read only after its published token has been read back from its memory and matched:
 * that proves the pid names the same process in our pid namespace and that the kernel lets us read
 * it. `ZMPI_CMA=0` turns it off.
 *
 * Yama. Reading another process's memory needs ptrace access to it. With Yama's ptrace_scope = 0
 * (or no Yama) a process of the same user has it; with ptrace_scope = 1 (Ubuntu's default) only
 * an ancestor has it, unless the target names a tracer with `prctl(PR_SET_PTRACER, pid)`, which
 * admits that process *and its descendants* to full ptrace (read and write memory, not only read)
 * for as long as the setting stands. So a rank names a tracer only after rendezvous, only when a
 * peer on this machine will read it, and only one that covers the job's own processes on this
 * machine (ptrace-scope.ts): normally the launcher or slurmstepd that started them all. With
 * ptrace_scope = 2 or 3 nobody may read, the token check fails, and large arrays are sent as bytes.
 */
import { readSetting, SETTINGS } from "../env/settings.js";
import { randomBytes } from "node:crypto";
import { allowTracer, loadNativeAddon } from "./native-addon.js";

/**
 * Zero-copy payloads at least this large go to a same-machine peer by cross-memory attach: one
 * copy by the receiver instead of two through the kernel's socket buffers (measured here: 32 MiB
 * in ~6 ms, against ~11 ms one way over loopback TCP). Smaller ones are not worth the syscall and
 * the receipt.
 */
export const CMA_MIN_BYTES = 64 * 1024;
/**
 * Arrays below the eager limit reach the transport as private copies; from this size they too go
 * by single copy (the copy stays alive until the receipt; the send does not wait for it). Through
 * the socket, a 64 KiB array took longer than a 1 MiB one by single copy, the one-node "cliff" of
 * issue 12 (unloaded, one node: 64 KiB ping-pong 333–380 µs over the socket, 1 MiB by single
 * copy 220–310 µs). Below 32 KiB the bytes through the socket cost about what the syscall and
 * the receipt do; on this shared machine same-session A/B figures were within noise (load 20–28).
 */
export const CMA_EAGER_MIN_BYTES = 32 * 1024;

interface NativeCma {
  setPtracer(pid: number): boolean;
  addressOf(view: ArrayBufferView): number;
  read(pid: number, address: number, dest: ArrayBufferView): number;
}

/** What a rank publishes so same-machine peers can check they may read its memory. */
export interface CmaToken {
  /** Address of the token bytes in the publishing process. */
  address: number;
  /** The token, hex. */
  token: string;
}

let native: NativeCma | null = null;
let why = "";
let token: Uint8Array | null = null;

function load(): NativeCma | null {
  if (native || why) return native;
  if (process.platform !== "linux") {
    why = `cross-memory attach is Linux-only (this is ${process.platform})`;
    return null;
  }
  if (!readSetting(SETTINGS.cma)) {
    why = "turned off by ZMPI_CMA=0";
    return null;
  }
  const { addon, reason } = loadNativeAddon();
  if (addon) native = addon as unknown as NativeCma;
  else why = reason;
  return native;
}

/** Whether large same-machine messages can be copied once, straight out of the sender (Linux cross-memory attach), and if not, why. */
export function singleCopySupport(): { available: boolean; reason: string } {
  load();
  return native ? { available: true, reason: "" } : { available: false, reason: why };
}

/**
 * This process's token, created on first call. Null when cross-memory attach is unavailable.
 * Publishing it grants nothing: see {@link allowReader}.
 */
export function publishCmaToken(): CmaToken | null {
  const n = load();
  if (!n) return null;
  // Kept referenced for the life of the process: peers read it at this address.
  token ??= new Uint8Array(randomBytes(32));
  return { address: n.addressOf(token), token: Buffer.from(token).toString("hex") };
}

/**
 * Lets process `pid` and its descendants read this one where Yama asks for it
 * (PR_SET_PTRACER; a no-op without Yama). False if the kernel refused.
 */
export function allowReader(pid: number): boolean {
  const n = load();
  if (!n) return false;
  return allowTracer(pid);
}

/** Address of a view's first byte, for a peer to read it. */
export function addressOf(view: ArrayBufferView): number {
  return load()!.addressOf(view);
}

/** Copies `dest.byteLength` bytes from `address` in process `pid` into `dest`; throws on failure. */
export function readRemote(pid: number, address: number, dest: ArrayBufferView): void {
  load()!.read(pid, address, dest);
}

/** True if the peer's token reads back from its memory as published. */
export function canReadPeer(pid: number, peer: CmaToken): boolean {
  if (!load() || !/^[0-9a-f]{64}$/.test(peer.token) || !Number.isSafeInteger(peer.address) || peer.address <= 0) return false;
  const got = new Uint8Array(32);
  try {
    readRemote(pid, peer.address, got);
  } catch {
    return false;
  }
  return Buffer.from(got).toString("hex") === peer.token;
}
