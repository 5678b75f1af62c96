// The data path across nodes under real srun on the local cluster: one task on each of n1 and n2,
// arrays from 8 B to 16 MiB both ways, over the authenticated TCP link and, with ZMPI_TCP_LINK=0,
// over ZeroMQ with CURVE.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { cleanEnv, slurmSkipReason } from "../helpers/slurm.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const skipReason = slurmSkipReason();
if (skipReason) console.warn(`skipped: ${skipReason}`);

function srun(args: string[], env: Record<string, string>, timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn("srun", args, { cwd: ROOT, env: cleanEnv({ ZMPI_SECRET: randomBytes(24).toString("hex"), ...env }), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe.skipIf(skipReason !== null)("the TCP data path under srun -N2", () => {
  for (const [link, via] of [
    ["1", "tcp-stream"],
    ["0", "zmq"],
  ] as const) {
    it(`ZMPI_TCP_LINK=${link}: every size arrives intact both ways, over ${via}`, async () => {
      const r = await srun(["--label", "-N2", "--ntasks-per-node=1", process.execPath, "--import", "tsx", "tests/fixtures/tcp-link.ts"], { ZMPI_TCP_LINK: link }, 120_000);
      expect(r.code, r.out).toBe(0);
      for (const t of [0, 1]) {
        expect(r.out, `task ${t}`).toMatch(new RegExp(`^\\s*${t}: ok exchange`, "m"));
        expect(r.out, `task ${t}`).toMatch(new RegExp(`^\\s*${t}: via ${via} `, "m"));
      }
    }, 150_000);
  }
});
