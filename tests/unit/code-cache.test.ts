// zmpi's code cache (src/env/code-cache.ts, code-cache-store.ts): ranks compile zmpi from V8 code a
// previous job saved, and that is only ever read from the user's own private directory, from files
// the user owns that nobody else can write, whole and for exactly this build; anything else is
// ignored (and rewritten when it is the user's), and ZMPI_CODE_CACHE=0 turns it off.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixture, linesOf, runJob } from "../helpers/run.js";

interface Report {
  outcomes: Record<string, string>;
  written: string[];
  extractor: boolean;
}

const temp = mkdtempSync(join(tmpdir(), "zmpi-code-cache-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));
let n = 0;
/** A fresh XDG_CACHE_HOME; its cache directory is `<it>/zmpi`. */
const freshHome = () => join(temp, `home-${n++}`);

function parse(line: string | undefined): Report {
  expect(line, "the fixture printed no report").toBeDefined();
  return JSON.parse(line!.slice("code-cache ".length)) as Report;
}

/** A 2-rank job (init, finalize) with its cache in `home`; each rank's report. */
async function job(home: string, env: Record<string, string> = {}, args: string[] = []): Promise<Report[]> {
  const r = await runJob("code-cache-rank.mjs", 2, { env: { XDG_CACHE_HOME: home, ...env }, args });
  expect(r.code, r.stderr).toBe(0);
  return [0, 1].map((rank) => parse(linesOf(r.stdout, rank).find((l) => l.startsWith("code-cache "))));
}

/** One process that only imports zmpi (so writes nothing), or runs `mode`; its report. */
function importOnly(home: string, env: Record<string, string> = {}, mode = "import-only"): Report {
  const r = spawnSync(process.execPath, [fixture("code-cache-rank.mjs"), mode], {
    env: { ...process.env, XDG_CACHE_HOME: home, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return parse(r.stdout.split("\n").find((l) => l.startsWith("code-cache ")));
}

const values = (r: Report) => [...new Set(Object.values(r.outcomes))];
const listing = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);
const snapshot = (dir: string) => listing(dir).map((f) => `${f} ${statSync(join(dir, f)).mtimeMs} ${statSync(join(dir, f)).size}`);

/** A cache directory one job filled: the reference copied into each case. */
let good: string;

beforeAll(async () => {
  const home = freshHome();
  const [a, b] = await job(home);
  // Nothing was cached yet; every module was written once, by one of the two ranks.
  expect(values(a!)).toEqual(["absent"]);
  const written = [...a!.written, ...b!.written].sort();
  expect(new Set(written).size).toBe(written.length);
  good = join(home, "zmpi");
  expect(listing(good)).toEqual(written);
  expect(written.length).toBe(Object.keys(a!.outcomes).length);
}, 120_000);

describe("zmpi's code cache", () => {
  it("is private (0700 directory, 0600 files, no temporary file left) and the next job's ranks compile from it", async () => {
    expect(statSync(good).mode & 0o777).toBe(0o700);
    for (const f of listing(good)) {
      expect(f).toMatch(/\.v8$/);
      expect(statSync(join(good, f)).mode & 0o777, f).toBe(0o600);
    }
    const home = freshHome();
    cpSync(good, join(home, "zmpi"), { recursive: true });
    chmodSync(join(home, "zmpi"), 0o700);
    const reports = await job(home, {}, ["large"]);
    for (const r of reports) {
      expect(values(r)).toEqual(["used"]);
      expect(r.written).toEqual([]);
    }
    // A dynamic import in code compiled from the cache works (V8 drops vm's import hook there).
    expect(reports[1]!.extractor).toBe(true);
  }, 120_000);

  it("ZMPI_CODE_CACHE=0 neither reads a cache nor creates or writes one", async () => {
    const home = freshHome();
    for (const r of await job(home, { ZMPI_CODE_CACHE: "0" })) {
      expect(values(r)).toEqual(["off"]);
      expect(r.written).toEqual([]);
    }
    expect(existsSync(join(home, "zmpi"))).toBe(false);
    const filled = copyOfGood();
    expect(values(importOnly(filled.home, { ZMPI_CODE_CACHE: "off" }))).toEqual(["off"]);
  }, 120_000);

  it("is not written by an in-process world of zmpi/testing (it runs none of a real rank's transport)", () => {
    const home = freshHome();
    const r = importOnly(home, {}, "memory");
    expect(values(r)).toEqual(["absent"]);
    expect(r.written).toEqual([]);
    expect(listing(join(home, "zmpi"))).toEqual([]);
  });

  it("refuses a directory that is a symbolic link, group- or other-writable, or another user's: nothing is read from it or written to it", async () => {
    const link = freshHome();
    mkdirSync(link);
    symlinkSync(good, join(link, "zmpi"));
    expect(values(importOnly(link))).toEqual(["unusable dir"]);

    for (const mode of [0o770, 0o707, 0o777]) {
      const { home, dir } = copyOfGood();
      chmodSync(dir, mode);
      const before = snapshot(dir);
      expect(values(importOnly(home)), mode.toString(8)).toEqual(["unusable dir"]);
      // A job's rank would write after finalize: not there.
      for (const r of await job(home)) expect(r.written).toEqual([]);
      expect(snapshot(dir)).toEqual(before);
    }

    if (process.getuid?.() === 0) {
      const { home, dir } = copyOfGood();
      chownSync(dir, 12345, 12345);
      expect(values(importOnly(home))).toEqual(["unusable dir"]);
    }
  }, 240_000);

  it("ignores a cache file that is a symbolic link, group- or other-writable, or another user's, and the next job replaces it", async () => {
    const cases: Array<[string, (file: string, dir: string) => void]> = [
      [
        "a symbolic link",
        (file) => {
          const target = `${file}.elsewhere`;
          renameSync(file, target);
          symlinkSync(target, file);
        },
      ],
      ["group-writable", (file) => chmodSync(file, 0o620)],
      ["other-writable", (file) => chmodSync(file, 0o602)],
    ];
    if (process.getuid?.() === 0) cases.push(["another user's", (file) => chownSync(file, 12345, 12345)]);
    for (const [what, spoil] of cases) {
      const { home, dir } = copyOfGood();
      for (const f of listing(dir)) spoil(join(dir, f), dir);
      expect(values(importOnly(home)), what).toEqual(["absent"]);
      const reports = await job(home);
      expect(values(reports[0]!), what).toEqual(["absent"]);
      expect(values((await job(home))[0]!), `${what}, then rewritten`).toEqual(["used"]);
    }
  }, 300_000);

  it("never hands V8 a truncated or corrupt file, and rewrites it; rewrites one V8 rejects", async () => {
    const spoilers: Array<[string, (b: Buffer) => Buffer, string]> = [
      ["truncated", (b) => b.subarray(0, b.length >> 1), "absent"],
      ["one byte changed", (b) => flip(b, b.length - 10), "absent"],
      // Whole and for this build by its header, but not V8's: V8 rejects it.
      ["V8 data damaged, checksum redone", (b) => reseal(b, (data) => flip(data, 0)), "rejected"],
    ];
    for (const [what, spoil, outcome] of spoilers) {
      const { home, dir } = copyOfGood();
      for (const f of listing(dir)) writeFileSync(join(dir, f), spoil(readFileSync(join(dir, f))));
      const [a, b] = await job(home);
      expect(values(a!), what).toEqual([outcome]);
      expect(new Set([...a!.written, ...b!.written]).size, what).toBe(listing(dir).length);
      expect(values((await job(home))[0]!), `${what}, then rewritten`).toEqual(["used"]);
    }
  }, 300_000);

  it("a rank that writes a cache removes caches nobody wrote for 14 days, and no other", async () => {
    const { home, dir } = copyOfGood();
    const files = listing(dir);
    rmSync(join(dir, files[0]!));
    const stale = join(dir, "index-0123456789abcdef0123456789abcdef.v8");
    const recent = join(dir, "chunk-OTHERBLD-0123456789abcdef0123456789abcdef.v8");
    writeFileSync(stale, "old build", { mode: 0o600 });
    writeFileSync(recent, "another build", { mode: 0o600 });
    const old = new Date(Date.now() - 15 * 24 * 3600_000);
    utimesSync(stale, old, old);
    const [a, b] = await job(home);
    expect([...a!.written, ...b!.written]).toEqual([files[0]]);
    expect(listing(dir)).toEqual([...files, "chunk-OTHERBLD-0123456789abcdef0123456789abcdef.v8"].sort());
  }, 120_000);

  it("of processes saving the same cache at once, one writes it and none sees part of a file", async () => {
    const store = pathToFileURL(join(import.meta.dirname, "../../dist/src/env/code-cache-store.js")).href;
    const dir = join(freshHome(), "zmpi");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, "race.v8");
    const at = Date.now() + 1500;
    // Process i saves at `at` + i·100 ms and takes 200 ms to make its data: the first two overlap the
    // writer, the others come after its rename. One writes; the rest find its file or its temporary one.
    const src = `import { writeCache, readCache } from ${JSON.stringify(store)};
      while (Date.now() < ${at} + Number(process.argv[1]) * 100);
      const before = readCache(${JSON.stringify(file)}, "k");
      const wrote = writeCache(${JSON.stringify(file)}, "k", () => { const t = Date.now(); while (Date.now() - t < 200); return Buffer.alloc(1 << 20, process.pid & 255); });
      const after = readCache(${JSON.stringify(file)}, "k");
      console.log(JSON.stringify({ wrote, before: before?.data.length ?? null, after: after?.data.length ?? null }));`;
    const runs = await Promise.all(
      Array.from(
        { length: 6 },
        (_, i) =>
          new Promise<{ wrote: boolean; before: number | null; after: number | null }>((resolve, reject) => {
            const c = spawn(process.execPath, ["--input-type=module", "-e", src, String(i)], { stdio: ["ignore", "pipe", "inherit"] });
            let out = "";
            c.stdout.on("data", (d: Buffer) => (out += d));
            c.on("close", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}`))));
          }),
      ),
    );
    expect(runs.filter((r) => r.wrote)).toHaveLength(1);
    // A reader saw no file or a whole one, never a part.
    for (const r of runs) for (const len of [r.before, r.after]) expect([null, 1 << 20]).toContain(len);
    expect(listing(dir)).toEqual(["race.v8"]);
  }, 60_000);
});

/** A copy of the good cache in a fresh home. */
function copyOfGood(): { home: string; dir: string } {
  const home = freshHome();
  const dir = join(home, "zmpi");
  cpSync(good, dir, { recursive: true });
  chmodSync(dir, 0o700);
  return { home, dir };
}

function flip(b: Buffer, at: number): Buffer {
  const c = Buffer.from(b);
  c[at] = c[at]! ^ 0xff;
  return c;
}

/** `b` with its data changed by `change` and its header's SHA-256 made to match again. */
function reseal(b: Buffer, change: (data: Buffer) => Buffer): Buffer {
  let nl = -1;
  for (let i = 0; i < 3; i++) nl = b.indexOf(0x0a, nl + 1);
  const head = b
    .subarray(0, nl + 1)
    .toString("latin1")
    .split("\n");
  const data = change(b.subarray(nl + 1));
  const digest = createHash("sha256").update(data).digest("hex");
  return Buffer.concat([Buffer.from(`${head[0]}\n${head[1]}\n${digest}\n`, "latin1"), data]);
}
