// The TCP data port across nodes (stream-inbox.ts): strangers get nothing and cost nothing, and a
// sender that dies mid-message fails the receiver cleanly. Two pretend nodes, real processes.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { linesOf, runJob } from "../helpers/run.js";
import { memoryOf, ROOT, startJob, statsOf } from "./helpers/job.js";
import { runAsSelf, strangerResult } from "./helpers/users.js";

const ATTACKER = join(ROOT, "tests", "faults", "helpers", "attacker.mjs");
const MiB = 1024 * 1024;

beforeAll(() => {
  const dist = join(ROOT, "dist", "launcher", "cli.js");
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run "npm run build" first`);
});

describe.skipIf(process.platform !== "linux")("the TCP data port across nodes", () => {
  it("refuses strangers without the key (garbage, a forged rank, an unknown rank, silence), costs no memory, and the job keeps working", async () => {
    const job = startJob("target.ts", 2, { launchArgs: ["--nodes", "2"] });
    const [, t1] = await job.targets(2);
    const port = (t1 as unknown as { streamTcp: string | null }).streamTcp;
    expect(port, "rank 1 offers no TCP data port").toMatch(/^tcp:\/\//);
    const before = memoryOf(t1!.pid);
    const self = (args: string[]) => runAsSelf([process.execPath, ATTACKER, ...args]).done;
    const [tries, idle] = await Promise.all([self(["unix", port!, "40"]), self(["idle", port!, "20", "25000"])]);
    const after = memoryOf(t1!.pid);
    job.stop();
    const end = await job.done;
    const text = job.text();
    expect(end.code, text).toBe(0);
    const r = strangerResult;
    expect(r(tries).admitted).toBe(0);
    expect(r(tries).unreachable).toBe("");
    const s1 = statsOf(text, 1);
    expect(s1.refused).toBeGreaterThanOrEqual(r(tries).attempts);
    for (const rank of [0, 1]) expect(statsOf(text, rank).malformed).toBe(0);
    expect(text).toMatch(/rank 1 refused \d+ more connections from its TCP data port/);
    const closed = r(idle).closedMs;
    expect(
      closed.every((ms) => ms > 0 && ms < 20_000),
      `${closed}`,
    ).toBe(true);
    const growth = after.peak - before.peak;
    expect(growth).toBeLessThan(16 * MiB);
    console.log(
      `TCP data port: 0 admitted of ${r(tries).attempts} attempts, ${s1.refused} refusals counted, silent connections closed after ${(Math.max(...closed) / 1000).toFixed(1)} s, peak RSS +${(growth / MiB).toFixed(1)} MiB`,
    );
  }, 120_000);

  it("a sender killed mid-message fails the receiver's recv with RankFailedError naming it", async () => {
    const r = await runJob("tcp-cut.ts", 2, { nodes: 2, killOnBadExit: false });
    const out = linesOf(r.stdout, 0).join("\n");
    expect(out, r.stderr).toMatch(/caught RankFailedError after \d+ ms: recv on world: rank 1 \(pid \d+ on [^)]+\) closed its connection/);
    expect(out).not.toMatch(/ERROR/);
    expect(r.ms).toBeLessThan(20_000);
    console.log(`sender killed mid-message: ${out}`);
  }, 60_000);
});
