// Socket files (issue 10, row M): each rank's sockets live in a directory of its own inside the
// checked per-user directory, are removed when the rank ends, and what dead processes left behind
// (kill -9, older versions' files) is removed by the next job, while live ones are left alone.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ensurePrivateDir, removeStale } from "../../src/transport/private-dir.js";
import { runJob } from "../helpers/run.js";

const uid = typeof process.getuid === "function" ? process.getuid() : 0;
const hostTag = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);

/** A pid that is not running (a child that has exited). */
function deadPid(): Promise<number> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ["-e", "0"]);
    c.on("exit", () => resolve(c.pid!));
  });
}

/** A Unix socket file whose process was killed -9, so nobody listens and nobody removed it. */
function orphanSocket(path: string): Promise<void> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(path)}, () => { console.log("up"); setInterval(() => {}, 1000); })`], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    c.stdout.once("data", () => {
      c.kill("SIGKILL");
      c.on("exit", () => resolve());
    });
  });
}

describe.skipIf(process.platform !== "linux")("socket files", () => {
  it("ensurePrivateDir creates 0700, accepts its own, and names the path of anything else", () => {
    const base = mkdtempSync(join(tmpdir(), "zmpi-pd-"));
    const dir = join(base, "zmpi-x");
    ensurePrivateDir(dir);
    expect(existsSync(dir)).toBe(true);
    ensurePrivateDir(dir); // again: ours, 0700
    chmodSync(dir, 0o750);
    expect(() => ensurePrivateDir(dir)).toThrow(new RegExp(`${dir} has mode 750, not 700`));
    const file = join(base, "zmpi-file");
    writeFileSync(file, "");
    expect(() => ensurePrivateDir(file)).toThrow(/is not a directory/);
    const open = mkdtempSync(join(tmpdir(), "zmpi-pd-open-"));
    chmodSync(open, 0o777);
    expect(() => ensurePrivateDir(join(open, "zmpi-y"))).toThrow(/writable by every user and not sticky/);
    for (const d of [base, open]) rmSync(d, { recursive: true, force: true });
  });

  it("removes the directories of dead processes and sockets nobody listens on, keeps live ones; a job's own sockets are gone when it ends, even after kill -9 (by the next job)", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "zmpi-stale-"));
    const base = join(tmp, `zmpi-${uid}`);
    mkdirSync(base, { mode: 0o700 });
    chmodSync(base, 0o700);
    // 300 dead processes' directories and 300 orphaned sockets of an older version.
    const dead = await deadPid();
    for (let i = 0; i < 300; i++) {
      const d = join(base, `${hostTag}-${dead + 1_000_000 + i}`);
      mkdirSync(d, { mode: 0o700 });
      writeFileSync(join(d, "r0.sock"), "");
    }
    await Promise.all(Array.from({ length: 20 }, (_, i) => orphanSocket(join(base, `job${i}.0-r${i}.sock`))));
    // Live ones: this process's directory, another host's, and an old-style socket someone listens on.
    const mine = join(base, `${hostTag}-${process.pid}`);
    mkdirSync(mine, { mode: 0o700 });
    const otherHost = join(base, `00000000-${dead}`);
    mkdirSync(otherHost, { mode: 0o700 });
    const liveSock = join(base, "live.0-r0.sock");
    const server = createServer();
    await new Promise<void>((r) => server.listen(liveSock, () => r()));
    try {
      const r = await runJob("first-contact.ts", 3, { env: { TMPDIR: tmp } });
      expect(r.code, r.stderr).toBe(0);
      const left = readdirSync(base).sort();
      expect(left).toEqual([`00000000-${dead}`, `${hostTag}-${process.pid}`, "live.0-r0.sock"].sort());
      // kill -9 leaves the killed rank's directory (the others, stopped by SIGTERM, remove theirs);
      // the next job removes it.
      const killed = await runJob("faults.ts", 3, { env: { TMPDIR: tmp, MODE: "kill" } });
      expect(killed.code).not.toBe(0);
      const afterKill = readdirSync(base).filter((n) => n.startsWith(`${hostTag}-`) && n !== `${hostTag}-${process.pid}`);
      expect(afterKill.length).toBe(1);
      expect(removeStale(base)).toBe(afterKill.length);
      expect(readdirSync(base).sort()).toEqual(left);
      console.log(
        `socket files: 300 dead processes' directories and 20 orphaned old-style sockets removed by the next job; live ones kept; a job's own directories gone at exit; ${afterKill.length} left by kill -9 removed by the next start`,
      );
    } finally {
      server.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 120_000);
});
