// Atomic writes, checkpoints that survive a crash, and proof that only rank 0 touches the output.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { fixture, linesOf, runJob } from "../helpers/run.js";
import { nodeArgsFor } from "../../launcher/launch.js";
import { expectedRows, readParquet, tempDir } from "./helpers.js";

describe("atomic publishing", () => {
  it("a writer killed at any moment leaves one whole version, never a torn file", async () => {
    const dir = tempDir("atomic");
    const target = join(dir, "out.bin");
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, nodeArgsFor(fixture("results-atomic-writer.ts")), { env: { ...process.env, TARGET: target }, stdio: ["ignore", "pipe", "inherit"] });
      let seen = 0;
      await new Promise<void>((resolve) => {
        child.stdout!.on("data", (b: Buffer) => {
          seen += b.toString().split("\n").filter(Boolean).length;
          // Kill somewhere inside a later write (the writes take a few ms each).
          if (seen >= 3 + round) setTimeout(() => child.kill("SIGKILL"), 1 + round * 3);
        });
        child.on("exit", () => resolve());
      });
      const data = readFileSync(target);
      expect(data.length).toBe(8 << 20);
      expect(data.every((b) => b === data[0])).toBe(true);
    }
  });
});

describe("checkpoints", () => {
  for (const format of ["parquet", "csv"] as const) {
    it(`a ${format} checkpoint is intact and complete after a rank is killed`, async () => {
      const dir = tempDir(`ckpt-${format}`);
      // The ranks handle the failure themselves (no launcher kill), so rank 0 can mark the manifest.
      const r = await runJob("results-table.ts", 4, { env: { MODE: "checkpoint", OUT: dir, FORMAT: format, ROWS: "50" }, killOnBadExit: false });
      expect(r.code).not.toBe(0);
      expect(r.stdout).not.toMatch(/ERROR/);
      expect(linesOf(r.stdout, 3).join("\n")).toMatch(/checkpointed 200 rows/);
      const path = join(dir, `ckpt.${format}`);
      expect(existsSync(path)).toBe(true);
      if (format === "parquet") {
        expect(await readParquet(path)).toEqual(expectedRows(4, 50, 1));
      } else {
        const lines = readFileSync(path, "utf8").split("\n");
        expect(lines[0]).toBe("rank,i,x,s,flag,maybe");
        expect(readFileSync(path, "utf8")).toBe(readFileSync(join(dir, "run.csv"), "utf8"));
      }
      const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
      expect(manifest.checkpoints).toHaveLength(1);
      expect(manifest.checkpoints[0]).toMatchObject({ file: `ckpt.${format}`, of: `run.${format}`, rows: 200, rowsPerRank: [50, 50, 50, 50] });
      expect(manifest.status).toBe("failed");
      expect(manifest.error).toMatch(/rank 3/);
    });
  }
});

describe("only rank 0 writes", () => {
  const guard = pathToFileURL(fixture("results-guard.mjs")).href;
  const guarded =
    (dir: string) =>
    (rank: number): Record<string, string> =>
      rank === 0 ? {} : { NODE_OPTIONS: `--import ${guard}`, GUARD_DIR: dir };

  it("the guard itself stops a write into the directory (so it can catch one)", async () => {
    const dir = tempDir("guard-self");
    const r = await runJob("results-table.ts", 2, { env: { MODE: "guard-selftest", OUT: dir }, rankEnv: guarded(dir) });
    expect(r.code, r.stderr).toBe(0);
    expect(linesOf(r.stdout, 1).join("\n")).toMatch(/guard works: GUARD VIOLATION/);
    expect(existsSync(join(dir, "sneaky.txt"))).toBe(false);
  });

  for (const format of ["jsonl", "parquet"] as const) {
    it(`${format}: ranks 1..3 never touch the output directory, and the table is complete`, async () => {
      const dir = tempDir(`guard-${format}`);
      const r = await runJob("results-table.ts", 4, { env: { MODE: "basic", OUT: dir, FORMAT: format, ROWS: "20", FLUSHES: "2" }, rankEnv: guarded(dir) });
      expect(r.stderr).not.toMatch(/GUARD VIOLATION/);
      expect(r.code, r.stderr).toBe(0);
      const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
      expect(manifest.outputs[`table.${format}`].rows).toBe(80);
    });
  }
});
