// `npm run bench -- --startup`: times zmpi launch of a compiled hello, paired with mpirun of
// mpi4py when the machine has it, and stores every pair.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../launcher/bench/anchors.js";
import { runStartup, type StartupPair } from "../../launcher/bench/startup.js";

const out = mkdtempSync(join(tmpdir(), "zmpi-startup-test-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("bench --startup", () => {
  it("times two pairs at 2 ranks and writes startup.json with wall and CPU times", async () => {
    const text: Buffer[] = [];
    const stdout = new PassThrough().on("data", (c: Buffer) => text.push(c));
    const status = await runStartup({ ranks: [2], pairs: 2, root: repoRoot(), out, stdout, runTimeoutSec: 120 });
    const printed = Buffer.concat(text).toString();
    expect(status, printed).toBe(0);
    expect(printed).toMatch(/^# np=2: median zmpi wall [\d.]+ s, cpu [\d.]+ s/m);
    const report = JSON.parse(readFileSync(join(out, "startup.json"), "utf8")) as { pairs: StartupPair[]; reference: string | null };
    expect(report.pairs).toHaveLength(2);
    for (const p of report.pairs) {
      expect(p.np).toBe(2);
      expect(p.zmpi.code).toBe(0);
      expect(p.zmpi.wallS).toBeGreaterThan(0);
      // Two ranks and a launcher use CPU: the children's times were read.
      expect(p.zmpi.cpuS).toBeGreaterThan(0.05);
      if (report.reference !== null) expect(p.mpi?.cpuS).toBeGreaterThan(0);
    }
    if (report.reference === null) console.log(`bench --startup: no mpirun with mpi4py here: ${printed.split("\n")[0]}`);
  }, 300_000);
});
