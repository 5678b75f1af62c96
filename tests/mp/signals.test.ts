// The launcher forwards SIGINT/SIGTERM to every rank and returns 128 + the signal number.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../launcher/bin.mjs", import.meta.url));
const sleeper = fileURLToPath(new URL("../fixtures/sleeper.ts", import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("zmpi launch and signals", () => {
  for (const [sig, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    it(`forwards ${sig} to every rank and exits ${code}`, async () => {
      const child = spawn(process.execPath, [bin, "launch", "-n", "3", sleeper], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      const pids: number[] = [];
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`ranks never got ready:\n${out}`)), 60_000);
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          for (const m of d.toString().matchAll(/ready (\d+)/g)) pids.push(Number(m[1]));
          if (pids.length === 3) {
            clearTimeout(t);
            resolve();
          }
        });
      });
      const t0 = Date.now();
      child.kill(sig);
      const status = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
      expect(status).toBe(code);
      expect(Date.now() - t0).toBeLessThan(5000);
      for (const pid of pids) expect(alive(pid), `rank pid ${pid} still alive`).toBe(false);
    }, 90_000);
  }
});
