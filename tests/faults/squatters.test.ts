// Squatters (issue 10, rows A1, A2): another user who gets to the socket directory or the
// coordinator's port before the job. The job must fail at once with an error naming what was
// taken, and the squatter must learn nothing that admits it anywhere (no secret, no key, no
// endpoint, nothing replayable).
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { linesOf, runJob } from "../helpers/run.js";
import { ROOT } from "./helpers/job.js";
import { makeOtherUser, resultsOf, runAsSelf, type OtherUser } from "./helpers/users.js";

const ATTACKER = join(ROOT, "tests", "faults", "helpers", "attacker.mjs");
const uid = typeof process.getuid === "function" ? process.getuid() : 0;
let other: OtherUser | null = null;
let why = "";

beforeAll(() => {
  const u = makeOtherUser();
  if ("reason" in u) why = u.reason;
  else other = u;
  if (why) console.log(`squatters run as this user: ${why}`);
});
const made: string[] = [];
afterAll(() => {
  other?.remove();
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A fresh directory like /tmp: everyone may create in it, nobody may remove what others made. */
function sharedTmp(): string {
  const d = mkdtempSync(join(tmpdir(), "zmpi-squat-"));
  chmodSync(d, 0o1777);
  made.push(d);
  return d;
}

describe.skipIf(process.platform !== "linux")("squatters", () => {
  it("a socket directory made first by someone else (0777), planted as a symlink, or left with loose permissions: every rank fails at once naming the path", async () => {
    const cases: Array<{ what: string; tmp: string; expect: RegExp }> = [];
    const owned = sharedTmp();
    const dir = join(owned, `zmpi-${uid}`);
    if (other) {
      const made = await other.run([process.execPath, ATTACKER, "squat-dir", dir]).done;
      expect(made.code, made.stderr).toBe(0);
      cases.push({ what: `made by user ${other.name}, mode 0777`, tmp: owned, expect: new RegExp(`socket directory ${dir} belongs to uid ${other.uid}, not to you`) });
    }
    const linked = sharedTmp();
    const elsewhere = mkdtempSync(join(tmpdir(), "zmpi-elsewhere-"));
    made.push(elsewhere);
    symlinkSync(elsewhere, join(linked, `zmpi-${uid}`));
    cases.push({ what: "a symbolic link", tmp: linked, expect: new RegExp(`socket directory ${join(linked, `zmpi-${uid}`)} is a symbolic link`) });
    const loose = sharedTmp();
    mkdirSync(join(loose, `zmpi-${uid}`), { mode: 0o755 });
    chmodSync(join(loose, `zmpi-${uid}`), 0o755);
    cases.push({ what: "ours with mode 0755", tmp: loose, expect: new RegExp(`socket directory ${join(loose, `zmpi-${uid}`)} has mode 755, not 700: .*chmod 700`) });

    const runs = await Promise.all(cases.map((c) => runJob("first-contact.ts", 3, { env: { TMPDIR: c.tmp }, killOnBadExit: false, timeoutSec: 60 })));
    const seconds: string[] = [];
    runs.forEach((r, i) => {
      expect(r.code, r.stdout).not.toBe(0);
      for (let rank = 0; rank < 3; rank++) expect(linesOf(r.stderr, rank).join("\n"), `${cases[i]!.what}, rank ${rank}`).toMatch(cases[i]!.expect);
      expect(r.stdout).not.toMatch(/ok first-contact/);
      seconds.push(`${cases[i]!.what}: ${(r.ms / 1000).toFixed(1)} s`);
    });
    console.log(`socket directory squatted: all 3 ranks refused to start, naming the path (${seconds.join("; ")}, start-up included)`);
  }, 120_000);

  it("a squatter on the coordinator's port learns nothing: no secret, no key, no endpoint, only CURVE handshakes it cannot answer; the job fails naming the port", async () => {
    // A free port, then the squatter takes it before the job.
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    let ready!: () => void;
    const listening = new Promise<void>((r) => (ready = r));
    const argv = [process.execPath, ATTACKER, "squat-port", String(port)];
    const onStdout = (s: string) => s.includes("squatting") && ready();
    const squatter = other ? other.run(argv, { onStdout, timeoutMs: 90_000 }) : runAsSelf(argv, { onStdout, timeoutMs: 90_000 });
    await listening;
    const secret = `squat-${Math.random().toString(36).slice(2)}-secret-secret`;
    // The other ranks keep knocking (the launcher does not stop them when rank 0 fails) until their
    // own rendezvous deadline, so the squatter hears all they would say.
    const r = await runJob("first-contact.ts", 3, {
      rankEnv: () => ({ ZMPI_COORD_PORT: String(port), ZMPI_SECRET: secret, ZMPI_TIMEOUT: "6" }),
      killOnBadExit: false,
      timeoutSec: 60,
    });
    squatter.kill("SIGTERM");
    const got = resultsOf((await squatter.done).stdout)[0] as { connections: number; bytes: number; hex: string };
    expect(r.code).not.toBe(0);
    expect(linesOf(r.stderr, 0).join("\n")).toMatch(new RegExp(`coordinator port ${port} on 127\\.0\\.0\\.1 \\(127\\.0\\.0\\.1\\) is already taken`));
    const bytes = Buffer.from(got.hex, "hex");
    const text = bytes.toString("latin1");
    expect(got.connections).toBeGreaterThan(0);
    expect(text).not.toContain(secret);
    expect(text).not.toContain("PLAIN");
    expect(text).not.toMatch(/tcp:\/\/|ipc:\/\/|hello|zmpi/);
    expect(text).toContain("CURVE");
    console.log(
      `coordinator port squatted${other ? ` by user ${other.name}` : ""}: ${got.connections} connection(s) from the ranks gave it ${got.bytes} bytes, ` +
        `all ZMTP greetings and CURVE HELLOs (no secret, no key, no endpoint); rank 0 failed naming port ${port}; job down in ${(r.ms / 1000).toFixed(1)} s`,
    );
  }, 120_000);
});
