/**
 * Whom a rank lets read its memory for single-copy transfers (cma.ts). Yama's PR_SET_PTRACER names
 * one process, and admits it and every descendant of it, so the choice is the nearest process that
 * covers exactly the job's ranks on this machine:
 *
 * 1. our parent, when every same-machine peer is its child too: `zmpi launch`, or the slurmstepd
 *    of the job step under srun;
 * 2. the peer itself, when there is only one;
 * 3. our grandparent, when every peer is its grandchild (ranks started through a wrapper, e.g.
 *    `srun bash -c "node app.js"`: one shell per rank under one slurmstepd);
 *
 * otherwise nobody (single copy then works only where Yama does not restrict ptrace). Never init
 * (pid 1), which is everybody's ancestor.
 */
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { performance } from "node:perf_hooks";

/** One read of /proc/<pid>/stat fits here (the line is ~300 bytes; comm is at most 64). */
const statBuffer = Buffer.alloc(1024);

/**
 * The parent of `pid` (Linux /proc), or null if unknown. One open, read and close into a reused
 * buffer: `readFileSync` of a /proc file (size 0, so read in growing chunks) cost ~0.1 ms, and a
 * rank asks this of every peer on its machine.
 */
export function parentOf(pid: number): number | null {
  if (pid === process.pid) return process.ppid;
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
    let stat: string;
    const fd = openSync(`/proc/${pid}/stat`, "r");
    try {
      const n = readSync(fd, statBuffer, 0, statBuffer.length, null);
      stat = n < statBuffer.length ? statBuffer.toString("latin1", 0, n) : readFileSync(`/proc/${pid}/stat`, "latin1");
    } finally {
      closeSync(fd);
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return Number.isInteger(ppid) ? ppid : null;
  } catch {
    return null;
  }
}

/** What {@link chooseReader} picked and why. */
export interface ReaderChoice {
  pid: number;
  why: "parent" | "peer" | "grandparent";
}

/**
 * The last choice per `parent` function, for a while: the shared-memory rings and single copy each
 * ask at start-up, for the same peers, and each answer reads /proc for every peer on the machine.
 */
const recent = new WeakMap<(pid: number) => number | null, { peers: string; at: number; choice: ReaderChoice | null }>();
const RECENT_MS = 10_000;

/** The process to allow (see the module comment), or null when there is no safe choice. */
export function chooseReader(peerPids: number[], parent: (pid: number) => number | null = parentOf): ReaderChoice | null {
  const peers = peerPids.join(",");
  const last = recent.get(parent);
  if (last && last.peers === peers && performance.now() - last.at < RECENT_MS) return last.choice;
  const choice = choose(peerPids, parent);
  recent.set(parent, { peers, at: performance.now(), choice });
  return choice;
}

function choose(peerPids: number[], parent: (pid: number) => number | null): ReaderChoice | null {
  if (peerPids.length === 0) return null;
  const p = parent(process.pid);
  if (p !== null && p > 1 && peerPids.every((q) => parent(q) === p)) return { pid: p, why: "parent" };
  if (peerPids.length === 1) return { pid: peerPids[0]!, why: "peer" };
  const g = p !== null && p > 1 ? parent(p) : null;
  const grand = (q: number) => {
    const pq = parent(q);
    return pq !== null && pq > 1 ? parent(pq) : null;
  };
  if (g !== null && g > 1 && peerPids.every((q) => grand(q) === g)) return { pid: g, why: "grandparent" };
  return null;
}
