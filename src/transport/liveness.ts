/**
 * What became of a peer whose connection dropped: did the process end, or is it still there but
 * silent (stopped with SIGSTOP, swapping, or its host unreachable)? An error that says which is
 * worth the few milliseconds this takes: "rank 2 died" sends a user to look for a crash, "rank 2
 * did not answer for 10 s" to look for a hang.
 *
 * On the same machine the answer comes from /proc (a zombie has ended; a stopped or running
 * process has not). For a rank elsewhere, its bound port says: refused means nothing listens any
 * more (the process ended); a connection the kernel still completes, or none at all in time, means
 * the process or its host is not answering.
 */
import { readFileSync } from "node:fs";
import { connect } from "node:net";

/** The peer's process has ended, or has not but does not answer. */
type PeerState = "gone" | "silent";

const PROBE_MS = 1500;

function localState(pid: number): PeerState {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state === "Z" || state === "X" ? "gone" : "silent";
  } catch {
    try {
      process.kill(pid, 0);
      return "silent"; // no /proc here, but the process exists
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === "EPERM" ? "silent" : "gone";
    }
  }
}

function portState(endpoint: string): Promise<PeerState> {
  const m = /^tcp:\/\/(.+):(\d+)$/.exec(endpoint);
  if (!m) return Promise.resolve("gone");
  const host = m[1]!.replace(/^\[(.*)\]$/, "$1");
  return new Promise((resolve) => {
    const s = connect({ host, port: Number(m[2]) });
    const done = (st: PeerState) => {
      s.destroy();
      resolve(st);
    };
    s.setTimeout(PROBE_MS, () => done("silent"));
    s.once("connect", () => done("silent"));
    s.once("error", (e: NodeJS.ErrnoException) => done(e.code === "ECONNREFUSED" ? "gone" : "silent"));
  });
}

/** A process that is exiting closes its sockets before it becomes a zombie: look twice. */
const SETTLE_MS = 250;

/** Whether the peer's process has ended (`gone`) or not (`silent`). */
export async function probePeer(peer: { pid: number; tcp: string }, sameMachine: boolean): Promise<PeerState> {
  const look = () => (sameMachine ? Promise.resolve(localState(peer.pid)) : portState(peer.tcp));
  if ((await look()) === "gone") return "gone";
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  return look();
}

/** The sentence for a lost peer: `who` is e.g. "rank 2 (pid 123 on n1)". */
export function lossReason(who: string, state: PeerState, silentMs: number): string {
  return state === "gone" ? `${who} closed its connection: the process exited or crashed` : `${who} did not answer for ${Math.round(silentMs / 1000)} s (frozen or unreachable)`;
}
