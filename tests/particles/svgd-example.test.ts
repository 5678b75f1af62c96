// examples/svgd.ts on real ranks: the particles it writes at -n 4 (uneven shards 16/16/15/15,
// pools of 1) are byte-identical to a single-process run (a pool of 2).
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runJob } from "../helpers/run.js";

const EXAMPLE = fileURLToPath(new URL("../../examples/svgd.ts", import.meta.url));
const ARGS = ["--particles", "62", "--steps", "25"];

describe("svgd example", () => {
  it("writes the same particles at -n 4 as in one process", async () => {
    const hashes: string[] = [];
    for (const np of [1, 4]) {
      const out = mkdtempSync(join(tmpdir(), "zmpi-svgd-"));
      const r = await runJob(EXAMPLE, np, { args: [out, ...ARGS], timeoutSec: 240 });
      expect(r.code, r.stderr).toBe(0);
      if (np === 4) expect(r.stdout).toMatch(/62 particles over 4 rank\(s\) \(16\/16\/15\/15\)/);
      const text = readFileSync(join(out, "svgd.jsonl"), "utf8");
      expect(
        text
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l).particle),
      ).toEqual(Array.from({ length: 62 }, (_, i) => i));
      hashes.push(createHash("sha256").update(text).digest("hex"));
    }
    expect(hashes[1]).toBe(hashes[0]);
  }, 300_000);
});
