// The one table of ZMPI_* settings (src/env/settings.ts): every name the sources use is declared
// there, the README's table is generated from it and current, and a malformed value is refused
// at init() with a UsageError naming the variable and what would fit.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { OTHER_SETTINGS, readSettings, SETTINGS } from "../../src/env/settings.js";
import { UsageError } from "../../src/errors.js";
import { init, Op } from "../../src/index.js";
import { memoryWorld } from "../../src/groups/memory-world.js";
import { withSettingsTable } from "../../scripts/docs-settings.js";

const ROOT = resolve(import.meta.dirname, "../..");
const DECLARED = [...Object.values(SETTINGS), ...OTHER_SETTINGS].map((s) => s.name);
/** Identifiers in the code that look like settings but are not variables. */
const NOT_VARIABLES = new Set(["ZMPI_ENV"]);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (name === "node_modules" || name === "kernels" || name === "native") return [];
    if (statSync(p).isDirectory()) return sources(p);
    return /\.(ts|mts|mjs)$/.test(name) ? [p] : [];
  });
}

describe("ZMPI_* settings", () => {
  it("declares every ZMPI_* variable the sources and the launcher name", () => {
    const missing = new Set<string>();
    for (const file of [...sources(join(ROOT, "src")), ...sources(join(ROOT, "launcher"))]) {
      for (const [name] of readFileSync(file, "utf8").matchAll(/\bZMPI_[A-Z0-9_]*[A-Z0-9]\b/g)) {
        if (NOT_VARIABLES.has(name)) continue;
        const ok = DECLARED.some((d) => (d.endsWith("_") ? name.startsWith(d) : name === d));
        if (!ok) missing.add(`${name} (${file.slice(ROOT.length + 1)})`);
      }
    }
    expect([...missing]).toEqual([]);
    expect(new Set(DECLARED).size, "each variable declared once").toBe(DECLARED.length);
  });

  it("the README's table is the one generated from the declaration (npm run docs:settings)", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    expect(withSettingsTable(readme) === readme, "README.md's settings table is stale: run npm run docs:settings").toBe(true);
    for (const name of DECLARED) expect(readme).toContain(`\`${name.endsWith("_") ? `${name}<NAME>` : name}\``);
  });

  it("reads defaults when unset or empty, and parses what fits", () => {
    const d = readSettings({});
    expect(d).toMatchObject({ timeoutSec: undefined, log: "info", cma: true, stream: true, metrics: false, prefixed: false, kernels: "auto", launchFd: undefined });
    expect(readSettings({ ZMPI_TIMEOUT: "", ZMPI_LOG: "" })).toMatchObject({ timeoutSec: undefined, log: "info" });
    const s = readSettings({
      ZMPI_TIMEOUT: "2.5",
      ZMPI_LOG: "WARN",
      ZMPI_CMA: "0",
      ZMPI_STREAM: "off",
      ZMPI_METRICS: "1",
      ZMPI_PREFIXED: "true",
      ZMPI_LAUNCH_FD: "3",
      ZMPI_KERNELS: "js",
    });
    expect(s).toMatchObject({ timeoutSec: 2.5, log: "warn", cma: false, stream: false, metrics: true, prefixed: true, launchFd: 3, kernels: "js" });
  });

  it.each([
    ["ZMPI_TIMEOUT", "abc", /ZMPI_TIMEOUT="abc" is not a positive number of seconds: use a positive number of seconds/],
    ["ZMPI_TIMEOUT", "0", /ZMPI_TIMEOUT="0"/],
    ["ZMPI_TIMEOUT", "-5", /ZMPI_TIMEOUT="-5"/],
    ["ZMPI_LOG", "loud", /ZMPI_LOG="loud" is not one of debug, info, warn, error, silent/],
    ["ZMPI_CMA", "maybe", /ZMPI_CMA="maybe" is not 1 or 0: use 1\/0/],
    ["ZMPI_STREAM", "2", /ZMPI_STREAM="2"/],
    ["ZMPI_METRICS", "yes please", /ZMPI_METRICS="yes please"/],
    ["ZMPI_LAUNCH_FD", "1.5", /ZMPI_LAUNCH_FD="1.5" is not an integer from 3 to 65535/],
    ["ZMPI_KERNELS", "gpu", /ZMPI_KERNELS="gpu" is not one of auto, js, wasm/],
  ])("refuses %s=%s with a UsageError naming the variable", (name, value, message) => {
    let err: unknown;
    try {
      readSettings({ [name]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
  });

  it("init({ env }) reads them: a malformed one rejects before anything starts", async () => {
    await expect(init({ env: { ZMPI_LOG: "loud" } })).rejects.toThrow(/ZMPI_LOG="loud"/);
    await expect(init({ env: { ZMPI_TIMEOUT: "soon" } })).rejects.toBeInstanceOf(UsageError);
    // Forced algorithms are checked against what each collective has: a typo names its variable.
    await expect(init({ env: { ZMPI_ALGORITHM: "rnig" } })).rejects.toThrow(/ZMPI_ALGORITHM="rnig": no collective has an algorithm "rnig"/);
    await expect(init({ env: { ZMPI_ALGORITHM: "allreduce=bruck" } })).rejects.toThrow(/allreduce has no algorithm "bruck" \(recursive-doubling, ring, hierarchical or auto\)/);
    await expect(init({ env: { ZMPI_ALGORITHM: "allreduse=ring" } })).rejects.toThrow(/"allreduse" is not a collective/);
    await expect(init({ env: { ZMPI_ALG_ALLREDUCE: "bogus" } })).rejects.toThrow(/ZMPI_ALG_ALLREDUCE="bogus": allreduce has no algorithm/);
    await expect(init({ env: { ZMPI_ALG_ALLREDUSE: "ring" } })).rejects.toThrow(/ZMPI_ALG_ALLREDUSE="ring": no collective is called ALLREDUSE/);
    const world = await init({
      env: { ZMPI_TIMEOUT: "7", ZMPI_ALGORITHM: "ring,bcast=binomial", ZMPI_ALG_REDUCESCATTER: "ring", ZMPI_MESH: "dp:1,tp:1", ZMPI_MESH_PLACEMENT: "tp:inside-nodes" },
    });
    try {
      expect(world.size).toBe(1);
      expect(world.engine.config.timeoutMs).toBe(7000);
      // The forced algorithms come from the environment init() read too.
      expect(world.engine.config.algorithmEnv?.ZMPI_ALG_REDUCESCATTER).toBe("ring");
      // world.mesh("env") reads the mesh variables init() read, not process.env.
      const mesh = await world.mesh<"dp" | "tp">("env");
      expect(mesh.dims).toEqual(["dp", "tp"]);
    } finally {
      await world.finalize();
    }
  });

  it("the collectives force the algorithm the engine's environment names, not process.env's", async () => {
    // Two ranks whose environments differ: rank 0 forces the ring, rank 1 chooses by size. The
    // signatures then differ, which shows that each rank read its own engine's environment.
    const w = memoryWorld(2, { timeoutMs: 5000 });
    w[0]!.engine.config.algorithmEnv = { ZMPI_ALG_ALLREDUCE: "ring" };
    w[1]!.engine.config.algorithmEnv = {};
    const res = await Promise.allSettled(w.map((c) => c.allreduce(Float64Array.of(1, 2), Op.SUM)));
    const why = res.map((r) => (r.status === "rejected" ? String(r.reason) : "returned")).join("\n");
    expect(why).toMatch(/CollectiveMismatchError: .*allreduce\(float64\[2\], SUM, ring\)/);
    expect(why).toMatch(/allreduce\(float64\[2\], SUM, recursive-doubling\)/);
  });

  it("an algorithm forced by the environment applies where it can; forced by the call where it cannot, it is a UsageError", async () => {
    const w = memoryWorld(3, { timeoutMs: 5000 });
    for (const c of w) c.engine.config.algorithmEnv = { ZMPI_ALGORITHM: "ring,bcast=scatter-allgather" };
    // Plain values and a non-commutative op cannot take the ring: the automatic choice, not an error.
    expect(await Promise.all(w.map((c) => c.allgather({ r: c.rank })))).toEqual(w.map(() => [{ r: 0 }, { r: 1 }, { r: 2 }]));
    expect(await Promise.all(w.map((c) => c.allreduce(c.rank + 1, Op.SUM)))).toEqual([6, 6, 6]);
    expect(await Promise.all(w.map((c) => c.bcast(c.rank === 0 ? "hello" : undefined, 0)))).toEqual(["hello", "hello", "hello"]);
    const first = Op.create((a) => a, { commutative: false, name: "first" });
    expect((await Promise.all(w.map((c) => c.reduceScatter(Float64Array.of(c.rank, c.rank, c.rank), first)))).map((x) => Array.from(x))).toEqual([[0], [0], [0]]);
    expect(() => w[0]!.allgather({ r: 0 }, { algorithm: "ring" })).toThrow(/plain values are allgathered with bruck, not ring/);
  });
});
