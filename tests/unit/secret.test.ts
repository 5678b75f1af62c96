import { describe, it, expect } from "vitest";
import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "../../src/errors.js";
import { resolveSecret } from "../../src/env/secret.js";

async function tmpHome(): Promise<string> {
  return fs.mkdtemp(join(tmpdir(), "zmpi-secret-"));
}

describe("resolveSecret", () => {
  it("prefers ZMPI_SECRET, and refuses a short one without echoing it", async () => {
    const home = await tmpHome();
    const secret = "0123456789abcdef0123";
    expect(await resolveSecret({ ZMPI_SECRET: secret }, "slurm", { home })).toEqual({
      secret,
      source: "ZMPI_SECRET",
    });
    const err = await resolveSecret({ ZMPI_SECRET: "hunter2" }, "slurm", { home }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/ZMPI_SECRET is 7 characters long; it must have at least 16/);
    expect((err as Error).message).not.toContain("hunter2");
    // Nothing was written.
    await expect(fs.stat(join(home, ".zmpi"))).rejects.toThrow(/ENOENT/);
  });

  it("needs no secret for a world of size 1", async () => {
    const home = await tmpHome();
    expect(await resolveSecret({}, "single", { home })).toEqual({ secret: "", source: "none" });
    await expect(fs.stat(join(home, ".zmpi"))).rejects.toThrow(/ENOENT/);
  });

  it("creates ~/.zmpi/secret with mode 0600 in a 0700 directory, then reuses it", async () => {
    const home = await tmpHome();
    const first = await resolveSecret({}, "slurm", { home });
    expect(first.source).toBe("file");
    expect(first.secret).toMatch(/^[0-9a-f]{64}$/);
    const file = join(home, ".zmpi", "secret");
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    expect((await fs.stat(join(home, ".zmpi"))).mode & 0o777).toBe(0o700);
    expect(await resolveSecret({}, "zmpi", { home })).toEqual(first);
    // No temp files left behind.
    expect(await fs.readdir(join(home, ".zmpi"))).toEqual(["secret"]);
  });

  it("honours ZMPI_SECRET_FILE", async () => {
    const home = await tmpHome();
    const path = join(home, "elsewhere", "job.secret");
    const { secret, source } = await resolveSecret({ ZMPI_SECRET_FILE: path }, "ompi", { home });
    expect(source).toBe("file");
    expect((await fs.readFile(path, "utf8")).trim()).toBe(secret);
  });

  it("refuses a group- or world-readable file, naming the path and the fix", async () => {
    const home = await tmpHome();
    await resolveSecret({}, "slurm", { home });
    const file = join(home, ".zmpi", "secret");
    for (const mode of [0o640, 0o604, 0o660]) {
      await fs.chmod(file, mode);
      const err = await resolveSecret({}, "slurm", { home }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toContain(file);
      expect((err as Error).message).toContain(`chmod 600 ${file}`);
    }
  });

  it("refuses a secret file that is too short", async () => {
    const home = await tmpHome();
    const path = join(home, "short");
    await fs.writeFile(path, "abc\n", { mode: 0o600 });
    await expect(resolveSecret({ ZMPI_SECRET_FILE: path }, "slurm", { home })).rejects.toThrow(/holds 3 characters/);
  });

  it("gives every one of several concurrently starting processes the same value", async () => {
    const home = await tmpHome();
    const secretModule = fileURLToPath(new URL("../../src/env/secret.ts", import.meta.url));
    // Each child reports on stderr whether it tried to create the file, so the test can check
    // that a race really happened (several creators), not only that the values agree. The race is
    // made certain rather than left to the scheduler: a child that found no file and reaches the
    // create step (the hard link) waits there until every child has arrived, so all eight create
    // at once whatever the machine's load.
    const script =
      `const { promises: fsp, writeFileSync, readdirSync } = await import("node:fs");` +
      `const sync = process.env.SYNC_DIR, n = Number(process.env.N);` +
      `const link = fsp.link; fsp.link = async (a, b) => {` +
      `  process.stderr.write("CREATOR\\n"); writeFileSync(sync + "/" + process.pid, "");` +
      `  const until = Date.now() + 30000;` +
      `  while (readdirSync(sync).length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 5));` +
      `  return link(a, b); };` +
      `const { resolveSecret } = await import(${JSON.stringify(secretModule)});` +
      `const r = await resolveSecret(process.env, "slurm", { home: process.env.TEST_HOME });` +
      `process.stdout.write(r.secret);`;
    const sync = await fs.mkdtemp(join(tmpdir(), "zmpi-secret-sync-"));
    const { ZMPI_SECRET: _unused, ZMPI_SECRET_FILE: _unused2, ...parentEnv } = process.env;
    const runs = Array.from({ length: 8 }, () => {
      const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
        env: { ...parentEnv, TEST_HOME: home, SYNC_DIR: sync, N: "8" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      return new Promise<{ out: string; err: string }>((resolve, reject) =>
        child.on("exit", (code) => (code === 0 ? resolve({ out, err }) : reject(new Error(`child exited ${code}: ${err}`)))),
      );
    });
    const results = await Promise.all(runs);
    const secrets = results.map((r) => r.out);
    const creators = results.filter((r) => r.err.includes("CREATOR")).length;
    await fs.rm(sync, { recursive: true, force: true });
    expect(creators).toBe(8);
    expect(secrets).toHaveLength(8);
    expect(new Set(secrets).size).toBe(1);
    expect(secrets[0]).toMatch(/^[0-9a-f]{64}$/);
    expect((await fs.readFile(join(home, ".zmpi", "secret"), "utf8")).trim()).toBe(secrets[0]);
    expect(await fs.readdir(join(home, ".zmpi"))).toEqual(["secret"]);
  });
});
