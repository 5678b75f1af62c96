// Strangers against a running job (issue 10, rows A3, A4, A5): garbage, wrong secrets, the NULL
// mechanism, PLAIN with the job's real secret, guessed CURVE keys, a handshake frame claiming
// 2 GiB, connections that never speak, and a flood of them past the rank's descriptor limit,
// against the coordinator, a rank's ZeroMQ port and its Unix socket. As another user where the
// machine allows it. Nothing is admitted, nothing costs more than a small bound, every refusal is
// counted (rank and coordinator) and logged once per address, and the job keeps working.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryOf, ROOT, startJob, statsOf } from "./helpers/job.js";
import { makeOtherUser, resultsOf, runAsSelf, type OtherUser } from "./helpers/users.js";

const ATTACKER = join(ROOT, "tests", "faults", "helpers", "attacker.mjs");
const MiB = 1024 * 1024;

let other: OtherUser | null = null;
let why = "";

beforeAll(() => {
  const dist = join(ROOT, "dist", "launcher", "cli.js");
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run "npm run build" first`);
  const u = makeOtherUser();
  if ("reason" in u) why = u.reason;
  else other = u;
  if (why) console.log(`attacks run as this user: ${why}`);
});

afterAll(() => other?.remove());

/** Runs the attacker as the other user (or as this one, when there is none). */
function attack(args: string[], timeoutMs = 90_000) {
  const argv = [process.execPath, ATTACKER, ...args];
  return (other ? other.run(argv, { timeoutMs }) : runAsSelf(argv, { timeoutMs })).done;
}

describe.skipIf(process.platform !== "linux")("strangers against a running job", () => {
  it("admits none of them, counts and logs every refusal once per address, bounds a 2 GiB pre-auth claim, closes silent connections, and the job keeps working", async () => {
    const job = startJob("target.ts", 3);
    const [t0, t1] = await job.targets(3);
    const secret = (t1 as unknown as { secret: string }).secret;
    const before = memoryOf(t1!.pid);
    const beforeCoord = memoryOf(t0!.pid);
    // The Unix socket lives in a 0700 directory: another user cannot even reach it. A process of
    // the same user (another job, a holder of the secret) can, and must prove a rank's key.
    const self = (args: string[]) => runAsSelf([process.execPath, ATTACKER, ...args]).done;
    const [onRank, onCoord, claim, claimCoord, idleTcp, reach, reachIpc, onUnix, idleUnix] = await Promise.all([
      attack(["strangers", t1!.tcp, "60", secret]),
      attack(["strangers", t0!.coord!, "60", secret]),
      attack(["claim", t1!.tcp, String(2 ** 31), String(512 * MiB)]),
      attack(["claim", t0!.coord!, String(2 ** 31), String(512 * MiB)]),
      attack(["idle", t1!.tcp, "20", "25000"]),
      other ? attack(["unix", t1!.stream!, "1"]) : null,
      other && t1!.ipc ? attack(["unix", t1!.ipc.replace(/^ipc:\/\//, ""), "1"]) : null,
      self(["unix", t1!.stream!, "60", secret]),
      self(["idle", t1!.stream!, "10", "25000"]),
    ]);
    const after = memoryOf(t1!.pid);
    const afterCoord = memoryOf(t0!.pid);
    // Alone, so nothing else counts against the cap.
    const pendingCap = await self(["idle", t1!.stream!, "80", "1500"]);
    job.stop();
    const end = await job.done;
    const text = job.text();
    expect(end.code, text).toBe(0);

    // What the stranger scripts print (each prints the fields of its own kind).
    interface StrangerResult {
      attempts: number;
      admitted: number;
      unreachable: string;
      closedMs: number[];
      sentBytes: number;
    }
    const r = (x: { stdout: string; stderr: string }) => {
      const res = resultsOf(x.stdout)[0];
      expect(res, x.stderr).toBeDefined();
      return res as unknown as StrangerResult;
    };
    const zmqAttempts = r(onRank).attempts + r(onCoord).attempts;
    const admitted = r(onRank).admitted + r(onCoord).admitted + r(onUnix).admitted;
    expect(r(onRank).admitted).toBe(0);
    expect(r(onCoord).admitted).toBe(0);
    expect(r(onUnix).admitted).toBe(0);
    if (reach) expect(r(reach).unreachable).toBe("EACCES");
    if (reachIpc) expect(r(reachIpc).unreachable).toBe("EACCES");

    // Counted where they were refused, and nothing got far enough to be a malformed message.
    const s0 = statsOf(text, 0);
    const s1 = statsOf(text, 1);
    expect(s1.refused).toBeGreaterThanOrEqual(r(onRank).attempts + r(onUnix).attempts);
    expect(s0.coordRefused).toBeGreaterThanOrEqual(r(onCoord).attempts);
    for (const rank of [0, 1, 2]) expect(statsOf(text, rank).malformed).toBe(0);
    // Logged once per address, then summarized: a job under attack says so without flooding its log.
    const firsts = text.split("\n").filter((l) => /refused a connection from/.test(l));
    expect(firsts.length, firsts.join("\n")).toBeLessThanOrEqual(4);
    expect(text).toMatch(/\[1\] \[zmpi rank 1\] rank 1 refused a connection from a peer of tcp:/);
    expect(text).toMatch(/\[0\] \[zmpi coordinator\] the coordinator refused a connection from/);
    expect(text).toMatch(/rank 1 refused \d+ more connections from its Unix socket/);

    // A3: the claim is refused at its frame header; the rank's peak memory barely moves.
    const peakGrowth = after.peak - before.peak;
    const coordGrowth = afterCoord.peak - beforeCoord.peak;
    expect(peakGrowth).toBeLessThan(32 * MiB);
    expect(coordGrowth).toBeLessThan(32 * MiB);
    // A5: connections that never authenticate are closed at the handshake deadline (10 s), not kept.
    const closedTcp = r(idleTcp).closedMs;
    const closedUnix = r(idleUnix).closedMs;
    expect(
      closedTcp.every((ms) => ms > 0 && ms < 20_000),
      `tcp: ${closedTcp}`,
    ).toBe(true);
    expect(
      closedUnix.every((ms) => ms > 0 && ms < 20_000),
      `unix: ${closedUnix}`,
    ).toBe(true);
    // At most 64 handshakes pending on the Unix socket: the rest are closed at once.
    const cap = r(pendingCap).closedMs;
    expect(cap.filter((ms) => ms > 0 && ms < 1000).length).toBeGreaterThanOrEqual(80 - 64);

    console.log(
      `strangers${other ? ` (as user ${other.name})` : " (as this user)"}: 0 admitted of ${zmqAttempts + r(onUnix).attempts} attempts ` +
        `(${r(onRank).attempts} on rank 1's ZeroMQ port, ${r(onCoord).attempts} on the coordinator, ${r(onUnix).attempts} on rank 1's Unix socket${reach ? `, which user ${other!.name} cannot reach: ${r(reach).unreachable}, nor its ZeroMQ ipc socket: ${reachIpc ? r(reachIpc).unreachable : "none"}` : ""}); ` +
        `refusals counted: rank 1 ${s1.refused}, coordinator ${s0.coordRefused}; ${firsts.length} first-refusal log lines; ` +
        `peak RSS +${(peakGrowth / MiB).toFixed(1)} MiB (rank 1) and +${(coordGrowth / MiB).toFixed(1)} MiB (the coordinator's process) under a 2 GiB pre-auth claim each (${(r(claim).sentBytes / MiB).toFixed(0)} and ${(r(claimCoord).sentBytes / MiB).toFixed(0)} MiB sent before they hung up); ` +
        `silent connections closed after ${(Math.max(...closedTcp) / 1000).toFixed(1)} s (tcp) / ${(Math.max(...closedUnix) / 1000).toFixed(1)} s (unix); ` +
        `${cap.filter((ms) => ms > 0 && ms < 1000).length} of 80 simultaneous handshakes refused at once; job ran ${s1.rounds} rounds, all correct`,
    );
    expect(admitted).toBe(0);
  }, 180_000);

  it("a flood of 1500 silent connections against a rank limited to 512 descriptors is logged at once and does not stall the job", async () => {
    // Well under the flood, so the rank runs out even when load slows its accepting down (the
    // first connections then time out before the last are taken).
    const job = startJob("target.ts", 2, { prefix: ["prlimit", "--nofile=512:512", "--"] });
    const [, t1] = await job.targets(2);
    const t = Date.now();
    const flood = await attack(["flood", t1!.tcp, "1500", "15000"]);
    const warned = /\[1\] \[zmpi rank 1\] rank 1 cannot accept connections on tcp:\/\/[^:]+:\d+: EMFILE/.exec(job.text());
    job.stop();
    const end = await job.done;
    const text = job.text();
    expect(warned, text).not.toBeNull();
    expect(end.code, text).toBe(0);
    const s1 = statsOf(text, 1);
    expect(s1.refused).toBeGreaterThan(400);
    const res = resultsOf(flood.stdout)[0] as { connections: number };
    console.log(
      `fd flood: ${res.connections} silent connections against rank 1 (limit 512 descriptors): logged at once ("cannot accept connections ... EMFILE"), ` +
        `${s1.refused} refused at the 10 s handshake deadline, job ran ${s1.rounds} rounds and finished ${((Date.now() - t) / 1000).toFixed(1)} s after the flood began`,
    );
  }, 120_000);
});
