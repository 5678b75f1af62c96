/**
 * What `import "zmpi"` loads is the bundle in dist/bundle/ (scripts/bundle.mjs: one module per
 * entry point plus shared chunks instead of ~130 compiled modules, for start-up). It must be the
 * compiled modules' behaviour under another file name: the same exports per entry point, one
 * class per name across entry points, `import.meta.url`-relative files (pool workers, the native
 * addon) still found, and built from today's compiled files.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { main: string; exports: Record<string, { types: string; default: string } | string> };
/** Subpath → [the file it loads, the compiled module its declarations describe]. */
const ENTRIES = Object.entries(pkg.exports).flatMap(([sub, e]) =>
  typeof e === "string" ? [] : [[sub, join(ROOT, e.default), join(ROOT, e.types.replace(/\.d\.ts$/, ".js"))] as const],
);
const load = (file: string) => import(pathToFileURL(file).href) as Promise<Record<string, unknown>>;

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

describe("the bundle package.json's exports name", () => {
  it("is what every entry point and main load, and is built from today's compiled files", () => {
    expect(ENTRIES.map(([sub]) => sub).sort()).toEqual([".", "./env", "./experiments", "./testing"]);
    for (const [sub, file] of ENTRIES) expect(file, sub).toMatch(/[\\/]dist[\\/]bundle[\\/][a-z]+\.js$/);
    expect(join(ROOT, pkg.main)).toBe(ENTRIES.find(([sub]) => sub === ".")![1]);
    // tsc rewrites only changed outputs and the bundle step runs after it (npm run build:ts): a
    // compiled file newer than the bundle means tsc ran alone and "zmpi" would run old code.
    const bundle = walk(join(ROOT, "dist", "bundle"));
    const oldest = Math.min(...bundle.map((f) => statSync(f).mtimeMs));
    const stale = walk(join(ROOT, "dist", "src")).filter((f) => f.endsWith(".js") && statSync(f).mtimeMs > oldest);
    expect(stale, "compiled after the bundle was built: run npm run build:ts").toEqual([]);
    // Self-contained: zmpi's code is inside; only packages, Node's built-ins and sibling chunks are imported.
    for (const f of bundle) {
      const relative = [...readFileSync(f, "utf8").matchAll(/\bfrom\s*"(\.[^"]*)"|\bimport\s*\(?\s*"(\.[^"]*)"/g)].map((m) => m[1] ?? m[2]!);
      expect(
        relative.filter((s) => !/^\.\/(chunk-[A-Z0-9]+\.js|code-cache\.js)$/.test(s)),
        f,
      ).toEqual([]);
    }
  });

  it.each(ENTRIES)("%s exports the same names as the compiled module", async (_sub, file, compiled) => {
    const [b, c] = await Promise.all([load(file), load(compiled)]);
    expect(Object.keys(b).sort()).toEqual(Object.keys(c).sort());
    expect(Object.keys(b).length).toBeGreaterThan(0);
  });

  it("holds one class per name across entry points (an error from zmpi/testing or zmpi/env is instanceof zmpi's)", async () => {
    const file = (sub: string) => ENTRIES.find(([s]) => s === sub)![1];
    const [zmpi, testing, env] = await Promise.all([load(file(".")), load(file("./testing")), load(file("./env"))]);
    const UsageError = zmpi.UsageError as new (...a: unknown[]) => Error;
    expect(() => (testing.memoryWorld as (n: number) => unknown)(0)).toThrow(UsageError);
    expect(() => (env.readSettings as (e: Record<string, string>) => unknown)({ ZMPI_TIMEOUT: "soon" })).toThrow(UsageError);
    // Class names survive bundling (errors are named after their class).
    expect(new UsageError("x").name).toBe("UsageError");
  });

  it("finds the files it locates from its own module's URL: the native addon and a pool worker", async () => {
    const zmpi = await load(ENTRIES.find(([s]) => s === ".")![1]);
    const compiled = await load(join(ROOT, "dist", "src", "index.js"));
    expect((zmpi.singleCopySupport as () => unknown)()).toEqual((compiled.singleCopySupport as () => unknown)());
    const testing = await load(ENTRIES.find(([s]) => s === "./testing")![1]);
    const [world] = (testing.memoryWorld as (n: number) => { pool(o: { size: number }): { run(u: URL, n: string, a: unknown): Promise<unknown> }; finalize(): Promise<void> }[])(1);
    const square = new URL("../fixtures/tasks/square.mjs", import.meta.url);
    expect(await world!.pool({ size: 1 }).run(square, "square", 7)).toBe(49);
    await world!.finalize();
  });
});
