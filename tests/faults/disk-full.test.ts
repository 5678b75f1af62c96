// A full disk during a flush, on real ranks: the flush fails on every rank with an error naming rank
// 0, the operation, the path and the OS error; the published table and its manifest stay exactly as
// they were; once space is back a retry adds the rows exactly once. Then a checkpoint on a nearly
// full disk is whole or absent.
//
// Two ways to fill the disk: a small tmpfs (needs mount, i.e. root or CAP_SYS_ADMIN: CI runs as
// root), giving ENOSPC; and RLIMIT_FSIZE set on rank 0 by prlimit(1), giving EFBIG. Each variant
// says which it used, and skips with the reason when the machine does not allow it.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { linesOf, runJob } from "../helpers/run.js";
import { asRead, digestTable, expectedRows, leftovers, readTable, tempDir } from "../results/helpers.js";

const NP = 4;
const ROWS = 250; // per rank per flush
const GOOD = 4; // good flushes before the disk fills: 4000 rows

const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) {
    try {
      execFileSync("umount", [m]);
    } catch {
      execFileSync("umount", ["-l", m]); // a rank killed by the harness may still hold a file open
    }
    rmSync(m, { recursive: true, force: true });
  }
});

/** A fresh 8 MiB tmpfs, or why there cannot be one. */
function smallTmpfs(): { dir: string } | { skip: string } {
  const dir = tempDir("tmpfs");
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", dir], { stdio: "pipe" });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return { skip: `cannot mount a tmpfs here (${String((e as { stderr?: Buffer }).stderr ?? e).trim()}): needs root or CAP_SYS_ADMIN` };
  }
  mounts.push(dir);
  return { dir };
}

function hasPrlimit(): boolean {
  try {
    execFileSync("prlimit", ["--version"], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

function keyCount(rows: Array<Record<string, unknown>>): number {
  return new Set(rows.map((r) => `${String(r.rank)}/${String(r.i)}`)).size;
}

/** The manifest entry of `file` describes `path` exactly: rows, bytes, and checksum or parts. */
async function expectManifestMatches(entry: Record<string, unknown>, path: string, format: string): Promise<void> {
  const rows = await readTable(path, format);
  const d = digestTable(path);
  expect(entry.pending, "no flush left half-recorded").toBeUndefined();
  expect(entry.rows).toBe(rows.length);
  expect(entry.bytes).toBe(d.bytes);
  if (format === "parquet") expect(entry.parts).toBeGreaterThan(0);
  else expect(entry.sha256).toBe(d.sha256);
}

for (const fault of ["tmpfs", "rlimit"] as const) {
  describe(`disk full (${fault === "tmpfs" ? "small tmpfs: ENOSPC" : "RLIMIT_FSIZE: EFBIG"})`, () => {
    for (const format of ["csv", "jsonl", "parquet"] as const) {
      it(`during a ${format} flush: file unchanged, error on every rank, retry adds the rows once`, async (ctx) => {
        let base: string;
        if (fault === "tmpfs") {
          const m = smallTmpfs();
          if ("skip" in m) {
            console.log(`disk full during ${format} flush: SKIPPED: ${m.skip}`);
            ctx.skip();
            return;
          }
          base = m.dir;
        } else {
          if (!hasPrlimit()) {
            console.log(`disk full during ${format} flush: SKIPPED: prlimit(1) (util-linux) is not installed`);
            ctx.skip();
            return;
          }
          base = tempDir("rlimit");
        }
        const out = join(base, "out");
        mkdirSync(out);
        const ctl = tempDir(`disk-${format}`);
        const r = await runJob("results-disk.ts", NP, { env: { MODE: "full", OUT: out, CTL: ctl, FORMAT: format, FAULT: fault, ROWS: String(ROWS), GOOD: String(GOOD) } });
        expect(r.code, r.stdout + r.stderr).toBe(0);
        const path = join(out, `table.${format}`);

        // The failed flush: every rank rejects, naming rank 0, the operation, the path, the OS error.
        const osError = fault === "tmpfs" ? "ENOSPC" : "EFBIG";
        for (let k = 0; k < NP; k++) {
          const lines = linesOf(r.stdout, k);
          const failed = lines.find((l) => l.startsWith("flush failed: "));
          expect(failed, `rank ${k}:\n${lines.join("\n")}`).toBeDefined();
          expect(failed).toContain("ResultsWriteError");
          expect(failed).toContain("results.flush");
          expect(failed).toContain("rank 0");
          expect(failed).toContain(path);
          expect(failed).toContain(osError);
          // Kept for a retry: the rows of the failed flush are still pending on each rank.
          expect(lines).toContain(`pending after the failure: ${ROWS}`);
        }

        // The published table is exactly what it was, and the manifest still describes it.
        const before = JSON.parse(readFileSync(join(ctl, "before.json"), "utf8")) as { sha: string; bytes: number };
        const snap = join(ctl, `after-fail.${format}`);
        const after = digestTable(snap);
        expect(after).toEqual({ bytes: before.bytes, sha256: before.sha });
        const want = expectedRows(NP, ROWS * GOOD, GOOD);
        expect(await readTable(snap, format)).toEqual(asRead(want, format));
        const mFail = JSON.parse(readFileSync(join(ctl, "after-fail-manifest.json"), "utf8"));
        await expectManifestMatches(mFail.outputs[`table.${format}`], snap, format);
        expect(mFail.outputs[`table.${format}`].rows).toBe(NP * ROWS * GOOD);

        // The retry: every row once, in order.
        expect(linesOf(r.stdout, 0)).toContain(`retry: ${NP * ROWS} rows added, ${NP * ROWS * (GOOD + 1)} in the table`);
        const final = await readTable(path, format);
        const wantFinal = expectedRows(NP, ROWS * (GOOD + 1), GOOD + 1);
        expect(final.length).toBe(wantFinal.length);
        expect(final).toEqual(asRead(wantFinal, format));
        const duplicates = final.length - keyCount(final);
        expect(duplicates).toBe(0);
        const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
        const entry = manifest.outputs[`table.${format}`];
        await expectManifestMatches(entry, path, format);
        expect(manifest.status).toBe("complete");

        // A checkpoint on a nearly full disk: whole, or absent and reported on every rank.
        const ckpt = join(out, `ckpt.${format}`);
        const ckLine = linesOf(r.stdout, 0).find((l) => l.startsWith("checkpoint on a full disk"))!;
        for (let k = 1; k < NP; k++)
          expect(
            linesOf(r.stdout, k)
              .find((l) => l.startsWith("checkpoint on a full disk"))
              ?.split(":")[1],
          ).toBe(ckLine.split(":")[1]);
        let ckFigure: string;
        if (ckLine.includes(": ok,")) {
          expect(await readTable(ckpt, format)).toEqual(asRead(wantFinal, format));
          expect(manifest.checkpoints.map((c: { file: string }) => c.file)).toEqual([`ckpt.${format}`]);
          ckFigure = "checkpoint on a nearly full disk whole";
        } else {
          expect(ckLine).toMatch(new RegExp(`rank 0 could not .*${osError}`));
          expect(existsSync(ckpt)).toBe(false);
          expect(manifest.checkpoints).toEqual([]);
          ckFigure = "checkpoint on a nearly full disk refused, nothing left behind";
        }
        expect(leftovers(out)).toEqual([]);
        console.log(
          `disk full during ${format} flush (${fault === "tmpfs" ? "8 MiB tmpfs, ENOSPC" : "RLIMIT_FSIZE via prlimit, EFBIG"}): ` +
            `file unchanged (${want.length} rows, ${before.bytes} bytes, sha ${before.sha.slice(0, 12)}), failed on ${NP}/${NP} ranks with ${osError}, ` +
            `${ROWS} rows kept per rank; retry added ${NP * ROWS}, ${final.length} rows, ${duplicates} duplicates; ${ckFigure}`,
        );
        rmSync(ctl, { recursive: true, force: true });
        if (fault === "rlimit") rmSync(base, { recursive: true, force: true });
      });
    }
  });
}
