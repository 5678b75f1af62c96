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
import { readFileSync } from "node:fs";

/** The parent of `pid` (Linux /proc), or null if unknown. */
function parentOf(pid: number): number | null {
  if (pid === process.pid) return process.ppid;
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
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

/** The process to allow (see the module comment), or null when there is no safe choice. */
export function chooseReader(peerPids: number[], parent: (pid: number) => number | null = parentOf): ReaderChoice | null {
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
