// Shared-memory segments (issue 15) between real processes: shared both ways, reachable only the
// sanctioned way (pidfd_getfd), never through /proc/<pid>/fd even for the same user, sealed, named
// errors, unmapped once, alive after the owner's SIGKILL, nothing left in /dev/shm.
//
// The peers run tests/fixtures/shm-peer.mjs. When the test runs as root they run as `nobody`:
// root passes every file-mode check (CAP_DAC_OVERRIDE), so the mode-0 property is only visible
// between two processes of an ordinary user, which is the case it exists for.
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { release } from "node:os";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { attachSegment, closeSegmentFd, createSegment, releaseSegment, SegmentError, shmUnavailable } from "../../src/transport/shm-segment.js";
import { fixture } from "../helpers/run.js";

const unavailable = shmUnavailable();
if (unavailable) console.warn(`shared-memory segment tests skipped: ${unavailable}`);
/** Where segments must work: Linux 5.6+ (pidfd_getfd) with the addon built. */
const [major = 0, minor = 0] = release().split(".").map(Number);
const expected =
  process.platform === "linux" && (major > 5 || (major === 5 && minor >= 6)) && existsSync(new URL("../../src/transport/native/build/Release/zmpi_native.node", import.meta.url));
const root = process.getuid?.() === 0;
/** Peers run as nobody under root (see the header), else as this user. */
const PEER_USER = root ? { uid: 65534, gid: 65534 } : {};
if (!root) console.warn("shm-segment: not root, so the stranger test (another user attaching) is skipped: there is no other user to run it as");
/** Not a whole number of pages, so the tail of the last page is exercised too. */
const SIZE = (1 << 20) + 100;

type Answer = { ok: boolean; code?: string; message?: string } & Record<string, unknown>;

interface Peer {
  pid: number;
  /** Sends one command; resolves with its answer (rejects after 10 s). */
  send(cmd: Record<string, unknown>): Promise<Answer>;
  /** Kills it and resolves once it has exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
  child: ChildProcessWithoutNullStreams;
}

const peers: Peer[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.kill("SIGKILL")));
});

function startPeer(): Peer {
  const child = spawn(process.execPath, [fixture("shm-peer.mjs")], { ...PEER_USER, cwd: "/", stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const waiting: Array<(a: Answer) => void> = [];
  createInterface({ input: child.stdout }).on("line", (l) => waiting.shift()?.(JSON.parse(l) as Answer));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const peer: Peer = {
    pid: child.pid!,
    child,
    send: (cmd) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`peer ${child.pid} did not answer ${JSON.stringify(cmd)} in 10 s: ${stderr}`)), 10_000);
        waiting.push((a) => {
          clearTimeout(t);
          resolve(a);
        });
        child.stdin.write(`${JSON.stringify(cmd)}\n`);
      }),
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  peers.push(peer);
  return peer;
}

/** Starts a peer that creates a segment of `bytes`; returns it with the segment's pid and fd. */
async function owner(bytes = SIZE): Promise<{ peer: Peer; pid: number; fd: number; link: string; mode: number }> {
  const peer = startPeer();
  const a = await peer.send({ op: "create", bytes });
  expect(a.ok, a.message).toBe(true);
  return { peer, pid: a.pid as number, fd: a.fd as number, link: a.link as string, mode: a.mode as number };
}

/** The first index of `buffer` that does not hold pattern `seed` (as shm-peer.mjs writes it), or -1. */
function badIndex(buffer: ArrayBuffer, seed: number): number {
  const u = new Uint8Array(buffer);
  for (let i = 0; i < u.length; i++) if (u[i] !== ((i * 31 + seed) & 255)) return i;
  return -1;
}

function fill(buffer: ArrayBuffer, seed: number): void {
  const u = new Uint8Array(buffer);
  for (let i = 0; i < u.length; i++) u[i] = (i * 31 + seed) & 255;
}

/** What attachSegment threw (fails the test if it did not throw a SegmentError). */
function attachError(pid: number, fd: number, bytes: number): SegmentError {
  try {
    attachSegment(pid, fd, bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(SegmentError);
    return e as SegmentError;
  }
  throw new Error(`attachSegment(${pid}, ${fd}, ${bytes}) did not throw`);
}

/** Entries of /dev/shm that a segment of ours would be (a memfd named zmpi-shm has none, ever). */
function devShmSegments(): string[] {
  return readdirSync("/dev/shm").filter((n) => n.includes("zmpi-shm") || n.startsWith("memfd"));
}

describe("shared-memory segments are available", () => {
  // Not skipped where they should work: a segment the probe refuses (unsealed, wrong mode...) fails here.
  it.runIf(expected)("on Linux 5.6+ with the addon built, the self-attach probe passes", () => {
    expect(unavailable).toBeNull();
  });
});

describe.skipIf(unavailable !== null)("shared-memory segments", () => {
  it("is shared both ways between two processes of one user, and with this one; it is a memfd of mode 0 in no filesystem", async () => {
    const own = await owner();
    expect(own.link).toBe("/memfd:zmpi-shm (deleted)");
    expect(own.mode).toBe(0);
    const other = startPeer();
    expect(await other.send({ op: "attach", pid: own.pid, fd: own.fd, bytes: SIZE })).toEqual({ ok: true });
    await other.send({ op: "fill", seed: 1 });
    expect(await own.peer.send({ op: "check", seed: 1 })).toEqual({ ok: true, bad: -1 });
    await own.peer.send({ op: "fill", seed: 2 });
    expect(await other.send({ op: "check", seed: 2 })).toEqual({ ok: true, bad: -1 });

    const mine = attachSegment(own.pid, own.fd, SIZE);
    expect(mine.byteLength).toBe(SIZE);
    expect(badIndex(mine, 2)).toBe(-1);
    fill(mine, 3);
    expect(await own.peer.send({ op: "check", seed: 3 })).toEqual({ ok: true, bad: -1 });
    expect(await other.send({ op: "check", seed: 3 })).toEqual({ ok: true, bad: -1 });
    expect(devShmSegments()).toEqual([]);
    releaseSegment(mine);
  });

  it("cannot be reopened through /proc/<pid>/fd by the same user (EACCES); with its mode put back it can: the mode is what refuses", async () => {
    const own = await owner();
    const other = startPeer();
    const path = `/proc/${own.pid}/fd/${own.fd}`;
    const refused = await other.send({ op: "open", path });
    expect(refused.ok).toBe(false);
    expect(refused.code, refused.message).toBe("EACCES");
    // The sanctioned way still works for the same process.
    expect(await other.send({ op: "attach", pid: own.pid, fd: own.fd, bytes: SIZE })).toEqual({ ok: true });
    // Control: the same memfd with an ordinary mode opens through /proc for the same user.
    expect(await own.peer.send({ op: "chmod", mode: 0o600 })).toEqual({ ok: true });
    expect(await other.send({ op: "open", path })).toEqual({ ok: true });
  });

  it.runIf(root)("cannot be attached by another user (EPERM from pidfd_getfd)", async () => {
    const seg = createSegment(SIZE); // owned by root; the peer runs as nobody
    try {
      const stranger = startPeer();
      const a = await stranger.send({ op: "attach", pid: process.pid, fd: seg.fd, bytes: SIZE });
      expect(a.ok).toBe(false);
      expect(a.code, a.message).toBe("EPERM");
      expect(a.message).toMatch(/pidfd_getfd/);
    } finally {
      releaseSegment(seg.buffer);
      closeSegmentFd(seg.fd);
    }
  });

  it("is sealed: its owner can neither shrink nor grow it, and an unsealed file of the right size is refused", async () => {
    const own = await owner();
    for (const bytes of [4096, SIZE * 2]) {
      const a = await own.peer.send({ op: "truncate", bytes });
      expect(a.ok).toBe(false);
      expect(a.code, a.message).toBe("EPERM");
    }
    // A file that cannot be sealed at all (the temp dir's disk), and a tmpfs file that could be but is not.
    const other = startPeer();
    for (const [dir, why] of [
      [undefined, "not a sealable file"],
      ["/dev/shm", "its size could change under the mapping"],
    ] as const) {
      const plain = await other.send({ op: "plain", bytes: SIZE, dir });
      expect(plain.ok, plain.message).toBe(true);
      const e = attachError(other.pid, plain.fd as number, SIZE);
      expect(e.message).toContain(`pid ${other.pid} (fd ${plain.fd}, ${SIZE} bytes)`);
      expect(e.message).toContain(`the segment is not sealed (${why})`);
      expect(e.code).toBe("EINVAL");
    }
  });

  it("names both sizes on a size mismatch, and the errno of a dead process, a bad fd or a non-file", async () => {
    const own = await owner();
    for (const wrong of [SIZE + 1, SIZE - 1]) {
      const e = attachError(own.pid, own.fd, wrong);
      expect(e.message).toContain(`the segment is ${SIZE} bytes, expected ${wrong}`);
      expect(e.message).toContain(`pid ${own.pid} (fd ${own.fd}`);
    }
    const gone = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
    const deadPid = Number(gone.stdout.trim());
    const dead = attachError(deadPid, 3, SIZE);
    expect(dead.code, dead.message).toBe("ESRCH");
    expect(dead.message).toContain(`pid ${deadPid}`);
    const badFd = attachError(own.pid, 999, SIZE);
    expect(badFd.code, badFd.message).toBe("EBADF");
    expect(badFd.message).toContain("fd 999");
    expect(attachError(own.pid, 0, SIZE).message).toMatch(/not a regular file/); // its stdin, a pipe
    expect(() => attachSegment(0, own.fd, SIZE)).toThrow(UsageError);
    expect(() => attachSegment(own.pid, -1, SIZE)).toThrow(UsageError);
    expect(() => createSegment(0)).toThrow(UsageError);
    expect(() => createSegment(1.5)).toThrow(UsageError);
    expect(() => releaseSegment(new ArrayBuffer(8))).toThrow(/not a buffer from createSegment or attachSegment/);
  });

  it("release unmaps at once and detaches (byteLength 0); the later finalizer does not unmap again; GC unmaps dropped buffers", () => {
    const seg = createSegment(SIZE);
    const view = new Int32Array(seg.buffer);
    Atomics.store(view, 1, 42); // Atomics work on the (non-shared) ArrayBuffer
    expect(Atomics.load(view, 1)).toBe(42);
    releaseSegment(seg.buffer);
    expect(seg.buffer.byteLength).toBe(0);
    expect(view.length).toBe(0);
    releaseSegment(seg.buffer); // again: nothing to do
    closeSegmentFd(seg.fd);
    expect(() => closeSegmentFd(seg.fd)).toThrow(/EBADF|Bad file descriptor/);

    const r = spawnSync(process.execPath, ["--expose-gc", fixture("shm-release.mjs")], { encoding: "utf8", timeout: 30_000 });
    expect(r.status, `${r.stderr} (signal ${r.signal})`).toBe(0);
    const res = JSON.parse(
      r.stdout
        .split("\n")
        .find((l) => l.startsWith("result "))!
        .slice(7),
    ) as Record<string, number | boolean>;
    expect(res).toMatchObject({ before: 2, afterRelease: 1, byteLength: 0, viewLength: 0, seen: true });
    // The released address was mapped again before its finalizer ran: the sharp case for a double unmap.
    expect(res.reused, "no new mapping took the released address").toBe(true);
    expect(res.whileHeld).toBe(1 + (res.held as number));
    expect(res.withDropped).toBe((res.whileHeld as number) + 20);
    expect(res.afterGc).toBe(res.whileHeld);
  });

  it("stays readable and writable here after its owner is killed with SIGKILL (no SIGBUS); nobody can attach any more", async () => {
    const own = await owner();
    const mine = attachSegment(own.pid, own.fd, SIZE);
    await own.peer.send({ op: "fill", seed: 5 });
    await own.peer.kill("SIGKILL");
    expect(own.peer.child.signalCode).toBe("SIGKILL");
    expect(badIndex(mine, 5)).toBe(-1);
    fill(mine, 6);
    expect(badIndex(mine, 6)).toBe(-1);
    expect(attachError(own.pid, own.fd, SIZE).code).toBe("ESRCH");
    releaseSegment(mine);
  });

  it("leaves nothing in /dev/shm once every process has exited", async () => {
    const own = await owner();
    const other = startPeer();
    expect(await other.send({ op: "attach", pid: own.pid, fd: own.fd, bytes: SIZE })).toEqual({ ok: true });
    await Promise.all([own.peer.kill("SIGKILL"), other.kill("SIGTERM")]);
    expect(devShmSegments()).toEqual([]);
  });
});
