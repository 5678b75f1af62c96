// The same-node shared-memory channel (issue 15) on real processes: it is on by default and used
// between ranks of one node, messages of every size and kind arrive intact and in order through
// it (and around it when a ring is full or a message too large), a rank blocked in recv uses no
// CPU, a rank dying in the middle of a ring write fails the job cleanly and is never read as a
// message, no segment outlives its job, and the socket path alone still passes the suites.
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { closeSegmentFd, createSegment, releaseSegment } from "../../src/transport/shm-segment.js";
import { type JobResult, linesOf, msAfterDeath, runJob } from "../helpers/run.js";
import { expectSuitesPass } from "../helpers/suites.js";

const linux = process.platform === "linux";

/** The `stats {json}` line a rank printed. */
function statsOf(r: JobResult, rank: number): { ring: number; bells: number } {
  const line = linesOf(r.stdout, rank).find((l) => l.startsWith("stats "));
  expect(line, `rank ${rank} printed no stats:\n${r.stdout}\n${r.stderr}`).toBeDefined();
  return JSON.parse(line!.slice(6)) as { ring: number; bells: number };
}

/** Expects `ok <name>` from every rank of the job. */
function expectOk(r: JobResult, np: number, names: string[]): void {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  for (let rank = 0; rank < np; rank++) for (const n of names) expect(linesOf(r.stdout, rank), `rank ${rank}: ok ${n}`).toContain(`ok ${n}`);
}

/** The pids the ranks printed (`pid <n>`). */
function pidsOf(r: JobResult, np: number): number[] {
  return [...Array(np).keys()].map((rank) => {
    const l = linesOf(r.stdout, rank).find((x) => x.startsWith("pid "));
    expect(l, `rank ${rank} printed no pid`).toBeDefined();
    return Number(l!.slice(4));
  });
}

/** Where `pid` (if it still exists) holds or maps a zmpi segment: its memfd links and mappings. */
function segmentsHeldBy(pid: number | "self"): string[] {
  const dir = `/proc/${pid}`;
  if (!existsSync(dir)) return [];
  const held: string[] = [];
  try {
    for (const fd of readdirSync(`${dir}/fd`)) {
      try {
        const link = readlinkSync(`${dir}/fd/${fd}`);
        if (link.includes("memfd:zmpi-shm")) held.push(`${pid} fd ${fd}: ${link}`);
      } catch {} // closed meanwhile
    }
    for (const l of readFileSync(`${dir}/maps`, "utf8").split("\n")) if (l.includes("memfd:zmpi-shm")) held.push(`${pid} maps: ${l}`);
  } catch {} // the process ended while we looked
  return held;
}

/** Entries of /dev/shm that name zmpi (the channel uses memfds, which have no name there; a named segment would). */
const devShm = () => (existsSync("/dev/shm") ? readdirSync("/dev/shm").filter((n) => /zmpi/i.test(n)) : []);

describe("same-node shared-memory channel", () => {
  for (const np of [2, 3]) {
    it(`is on by default at ${np} ranks: every rank writes to every other by ring, and small messages come that way`, async () => {
      const r = await runJob("shm.ts", np, { env: { MODE: "peers", EXPECT_SHM: linux ? "1" : "0" } });
      expectOk(r, np, ["peers", "traffic"]);
      // 20 rounds of one small message from each peer: all of them, and more (barriers, acks), by ring.
      for (let rank = 0; rank < np; rank++) if (linux) expect(statsOf(r, rank).ring, `rank ${rank}`).toBeGreaterThanOrEqual(20 * (np - 1));
    });
  }

  it("with ZMPI_SHM=0 no rank writes by ring and nothing is received from one", async () => {
    const r = await runJob("shm.ts", 3, { env: { MODE: "peers", EXPECT_SHM: "0", ZMPI_SHM: "0" } });
    expectOk(r, 3, ["peers", "traffic"]);
    for (let rank = 0; rank < 3; rank++) expect(statsOf(r, rank)).toEqual({ ring: 0, bells: 0 });
  });

  it("across 2 pretend nodes (4 ranks) rings join only ranks of the same pretend node", async () => {
    // peer-table.ts sameMachine() wants the same hostname AND the same node name, and pretend nodes
    // have names of their own (node0, node1) on this one machine: so a ring joins only ranks of one
    // pretend node, as it would on real nodes; between them traffic goes by tcp. The fixture checks
    // sharedMemoryPeers() against the ranks that printed the same `world.node`.
    const r = await runJob("shm.ts", 4, { nodes: 2, env: { MODE: "peers", EXPECT_SHM: linux ? "1" : "0" } });
    expectOk(r, 4, ["peers", "traffic"]);
    // One same-node peer each: its 20 messages by ring (the fixture checked the other two have no ring).
    for (let rank = 0; rank < 4; rank++) if (linux) expect(statsOf(r, rank).ring, `rank ${rank}`).toBeGreaterThanOrEqual(20);
  });

  for (const np of [2, 3]) {
    it.runIf(linux)(`carries every size and kind intact at ${np} ranks: the inline limit, a burst past a full ring in send order, ssend, irecv, collectives`, async () => {
      const r = await runJob("shm.ts", np, { env: { MODE: "correct" } });
      expectOk(r, np, ["sizes", "any", "burst", "ssend", "irecv", "collectives"]);
      console.log(`shm correct np=${np}: ${(r.ms / 1000).toFixed(1)} s; rank 0 ${linesOf(r.stdout, 0).find((l) => l.startsWith("burst "))}`);
    });
  }

  it.runIf(linux)("60000 small sends in a loop that never yields, received as they come, all arrive in order and none is dropped", async () => {
    // The sender's ring fills, some messages go by the socket, then the ring again; the receiver
    // holds what the ring brings early until the socket's arrive (in-order.ts, at most 4096).
    // Fails at 3632444: the socket messages stay in the sender's stream buffer while its loop runs,
    // the ring brings more than 4096 past them, and the 4097th is dropped ("would hold too much"):
    // the receive for it times out. 60000 makes that sure on this machine (20000 missed once in 4).
    const r = await runJob("shm.ts", 2, { env: { MODE: "flood" }, timeoutSec: 60 });
    expectOk(r, 2, ["flood"]);
  });

  it.runIf(linux)("a rank blocked 10 s in recv uses under 2% of a core (200 ms), polling for the default 100 µs and with ZMPI_SHM_SPIN_US=0", async () => {
    // Both at once: the figure is this process's own CPU time, not wall time, so they do not disturb each other.
    const runs = await Promise.all(([{}, { ZMPI_SHM_SPIN_US: "0" }] as Array<Record<string, string>>).map((env) => runJob("shm.ts", 2, { env: { MODE: "idle", ...env } })));
    for (const [i, r] of runs.entries()) {
      const what = i === 0 ? "default spin" : "ZMPI_SHM_SPIN_US=0";
      expect(r.code, `${what}: ${r.stdout}\n${r.stderr}`).toBe(0);
      const line = linesOf(r.stdout, 0).find((l) => l.startsWith("idle "));
      const m = /cpu-ms=([\d.]+) wall-ms=(\d+)/.exec(line ?? "");
      expect(m, `${what}: rank 0 printed no figure:\n${r.stdout}`).not.toBeNull();
      console.log(`shm idle (${what}): rank 0 used ${m![1]} ms of CPU in ${m![2]} ms blocked in recv`);
      expect(Number(m![2])).toBeGreaterThanOrEqual(9_500);
      expect(Number(m![1]), `${what}: CPU ms over 10 s`).toBeLessThan(200);
      // The message that ended the wait came by ring, and woke rank 0 with the doorbell: it slept.
      expect(
        linesOf(r.stdout, 1).find((l) => l.startsWith("bells ")),
        what,
      ).toMatch(/^bells [1-9]/);
    }
  });

  for (const np of [2, 3]) {
    it.runIf(linux)(
      `a rank dying in the middle of a ring write fails the job cleanly at ${np} ranks: RankFailedError naming it, the half-written message never delivered`,
      async () => {
        // killOnBadExit false: the survivors must notice and exit by themselves; the job limit is far below the test's.
        const r = await runJob("shm.ts", np, { env: { MODE: "die" }, killOnBadExit: false, timeoutSec: 40 });
        expect(r.code).not.toBe(0);
        expect(r.stderr).not.toMatch(/time limit/);
        expect(msAfterDeath(r.stdout, r.endedAt)).toBeLessThan(10_000);
        for (const rank of [0, ...(np > 2 ? [2] : [])]) {
          const lines = linesOf(r.stdout, rank).join("\n");
          expect(lines).toMatch(/caught RankFailedError: recv on world: rank 1 \(pid \d+ on [^)]+\)/);
          expect(lines).not.toMatch(/ERROR/);
        }
        expect(linesOf(r.stdout, 1).join("\n")).not.toMatch(/ERROR/);
      },
    );
  }

  it.runIf(linux)("leaves no segment behind: after a normal end and after every rank was SIGKILLed", async () => {
    // The probe itself sees a live segment (its descriptor and its mapping), and sees it go.
    const own = createSegment(4096);
    expect(segmentsHeldBy("self")).toHaveLength(2);
    releaseSegment(own.buffer);
    closeSegmentFd(own.fd);
    expect(segmentsHeldBy("self")).toEqual([]);
    const shmBefore = devShm();
    for (const end of ["finalize", "kill"]) {
      const r = await runJob("shm.ts", 3, { env: { MODE: "peers", EXPECT_SHM: "1", END: end }, killOnBadExit: false });
      if (end === "kill") expect(r.code).toBe(137);
      else expect(r.code, r.stderr).toBe(0);
      // While it ran, each rank held its own segment's memfd and mapped its own and its 2 peers'.
      for (let rank = 0; rank < 3; rank++) expect(linesOf(r.stdout, rank)).toContain("memfds fds=1 maps=3");
      const left = [...pidsOf(r, 3), "self" as const].flatMap(segmentsHeldBy);
      expect(left, `after ${end}`).toEqual([]);
      expect(
        pidsOf(r, 3).filter((p) => existsSync(`/proc/${p}`)),
        `ranks still running after ${end}`,
      ).toEqual([]);
    }
    expect(devShm()).toEqual(shmBefore);
  });

  it("with ZMPI_SHM=0 the point-to-point and collective suites pass over the socket alone (3 ranks)", async () => {
    await expectSuitesPass({ ZMPI_SHM: "0" });
  });
});
