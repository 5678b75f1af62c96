// Who may read a rank's memory (issue 10, row C1). Single copy needs ptrace access to the sender;
// under Yama ptrace_scope = 1 a rank grants it with prctl(PR_SET_PTRACER). It must name only the
// job's own processes (the launcher, whose descendants the ranks are), only after rendezvous and
// only when a peer on this machine will read it; never PR_SET_PTRACER_ANY. The real prctl calls
// are watched with strace.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/job.js";

const strace = spawnSync("strace", ["-V"], { encoding: "utf8" });
const why = process.platform !== "linux" ? "Linux only" : strace.status !== 0 ? "strace is not installed: cannot watch the prctl calls" : null;
if (why) console.warn(`ptrace-scope tests skipped: ${why}`);

/** Runs `zmpi launch` under strace; returns the job's output and every PR_SET_PTRACER call as [pid, argument]. */
function traced(np: number, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; calls: Array<[number, string]> }> {
  const file = join(mkdtempSync(join(tmpdir(), "zmpi-ptrace-")), "strace.txt");
  const argv = [
    "-f",
    "-qq",
    "--seccomp-bpf",
    "-e",
    "trace=prctl",
    "-o",
    file,
    process.execPath,
    join(ROOT, "launcher", "bin.mjs"),
    "launch",
    "-n",
    String(np),
    ...args,
    join(ROOT, "tests", "fixtures", "ptracer.mjs"),
  ];
  return new Promise((resolve) => {
    const child = spawn("strace", argv, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    const t = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.on("close", (code) => {
      clearTimeout(t);
      const calls = readFileSync(file, "utf8")
        .split("\n")
        // Under load strace splits a call ("prctl(PR_SET_PTRACER, 123 <unfinished ...>"): take its first line.
        .map((l) => /^(\d+) +prctl\(PR_SET_PTRACER, ([\w|]+)/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [Number(m[1]), m[2]!] as [number, string]);
      rmSync(join(file, ".."), { recursive: true, force: true });
      resolve({ code, out, calls });
    });
  });
}

describe.skipIf(why !== null)("ptrace scope of single copy", () => {
  it("names the launcher, after rendezvous, only with a same-machine peer that will read; never PR_SET_PTRACER_ANY", async () => {
    // One job after another: launchers started together may pick the same free coordinator port
    // (four at once collided in CI).
    const same = await traced(2, []);
    const apart = await traced(2, ["--nodes", "2"]);
    const off = await traced(2, [], { ZMPI_CMA: "0", ZMPI_SHM: "0" });
    const ringsOnly = await traced(2, [], { ZMPI_CMA: "0" });
    for (const r of [same, apart, off, ringsOnly]) expect(r.code, r.out).toBe(0);
    const readersOf = (out: string) =>
      out
        .split("\n")
        .filter((l) => / reader \{/.test(l))
        .map((l) => JSON.parse(l.slice(l.indexOf("{"))) as { pid: number; ppid: number; reader: { pid: number; why: string } | null; singleCopyPeers: number[]; ok: boolean });
    const readers = readersOf(same.out);
    expect(readers).toHaveLength(2);
    for (const r of readers) {
      expect(r.ok).toBe(true);
      expect(r.reader).toEqual({ pid: r.ppid, why: "parent" });
      // Exactly one call by this rank, naming its parent: the launcher that started every rank.
      expect(same.calls.filter(([pid]) => pid === r.pid)).toEqual([[r.pid, String(r.ppid)]]);
    }
    for (const r of [same, apart, off, ringsOnly]) expect(r.calls.filter(([, arg]) => /ANY|0xffffffff|-1/.test(arg))).toEqual([]);
    // No peer on this machine to read it (two pretend nodes), or single copy and the shared-memory
    // rings off: no grant at all.
    expect(apart.calls).toEqual([]);
    expect(off.calls).toEqual([]);
    // Single copy off, rings on: fetching a peer's ring segment (pidfd_getfd) needs the same
    // grant — one call per rank, naming its parent, as above.
    const ringRanks = readersOf(ringsOnly.out);
    expect(ringRanks).toHaveLength(2);
    for (const r of ringRanks) expect(ringsOnly.calls.filter(([pid]) => pid === r.pid)).toEqual([[r.pid, String(r.ppid)]]);
    expect(ringsOnly.calls).toHaveLength(2);
    console.log(
      `ptrace scope: 2 ranks on one machine: each called prctl(PR_SET_PTRACER, <launcher pid>) once after rendezvous (${same.calls.map(([p, a]) => `${p}→${a}`).join(", ")}); ` +
        `the same with single copy off and the rings on (${ringsOnly.calls.map(([p, a]) => `${p}→${a}`).join(", ")}); on two pretend nodes and with ZMPI_CMA=0 ZMPI_SHM=0: no call; PR_SET_PTRACER_ANY: never`,
    );
  }, 120_000);
});
