// The published types are the public surface: built as `npm pack` builds them (tsconfig.build.json,
// stripInternal), then read back with the TypeScript compiler. No internal member (the engine,
// the planes under send/recv) is visible on any exported class, every name exported from "zmpi"
// and its subpaths carries TSDoc, and layer classes and environment parsers stay out of "zmpi".
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
/** Members of the layers under the public classes: never in the published types. */
const INTERNAL = ["engine", "ctx", "sendOn", "sendEncodedOn", "recvOn", "checkLive", "checkRank", "collectiveSequence", "contextId"];
/** Entry points and the .d.ts each publishes (package.json "exports"). */
const ENTRIES = { zmpi: "src/index.d.ts", "zmpi/env": "src/env/public.d.ts", "zmpi/testing": "src/testing/index.d.ts" } as const;
/** Names that belong to a subpath, not to "zmpi". */
const NOT_IN_MAIN = [
  "BaseCommunicator",
  "CollectiveCommunicator",
  "detectEnvironment",
  "expandHostlist",
  "compressHostlist",
  "parseTasksPerNode",
  "deriveCoordinatorPort",
  "memoryWorld",
];

let out = "";
let program: ts.Program;
let checker: ts.TypeChecker;

function exportsOf(entry: keyof typeof ENTRIES): ts.Symbol[] {
  const file = program.getSourceFile(join(out, ENTRIES[entry]));
  if (!file) throw new Error(`${ENTRIES[entry]} was not emitted`);
  return checker.getExportsOfModule(checker.getSymbolAtLocation(file)!);
}

const resolved = (s: ts.Symbol): ts.Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), "zmpi-dts-"));
  const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json", "--emitDeclarationOnly", "--incremental", "false", "--outDir", out], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed:\n${r.stdout}${r.stderr}`);
  program = ts.createProgram(
    Object.values(ENTRIES).map((f) => join(out, f)),
    { types: ["node"], skipLibCheck: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true },
  );
  checker = program.getTypeChecker();
}, 320_000);

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

describe("published types", () => {
  it("show no internal member on any exported class", () => {
    const leaks: string[] = [];
    for (const entry of Object.keys(ENTRIES) as (keyof typeof ENTRIES)[]) {
      for (const sym of exportsOf(entry)) {
        const target = resolved(sym);
        if (!(target.flags & ts.SymbolFlags.Class)) continue;
        const instance = checker.getDeclaredTypeOfSymbol(target);
        for (const p of checker.getPropertiesOfType(instance)) if (INTERNAL.includes(p.name)) leaks.push(`${entry}: ${sym.name}.${p.name}`);
      }
    }
    expect(leaks).toEqual([]);
  });

  it("document every exported name (TSDoc)", () => {
    const bare: string[] = [];
    let seen = 0;
    for (const entry of Object.keys(ENTRIES) as (keyof typeof ENTRIES)[]) {
      for (const sym of exportsOf(entry)) {
        seen++;
        const target = resolved(sym);
        const doc = ts.displayPartsToString(target.getDocumentationComment(checker)).trim();
        if (doc === "") bare.push(`${entry}: ${sym.name}`);
      }
    }
    expect(bare).toEqual([]);
    expect(seen, "exported names read").toBeGreaterThan(100);
  });

  it('keep layer classes and environment parsers out of "zmpi"', () => {
    const names = exportsOf("zmpi").map((s) => s.name);
    expect(names.filter((n) => NOT_IN_MAIN.includes(n))).toEqual([]);
    // What world.pool(), world.farm() and friends hand back can be named.
    for (const n of ["ComputePool", "PoolOptions", "WorkerExitedError", "Farm", "TaskFuture", "ResultsWriter", "Mesh", "Rng", "Ensemble"]) expect(names).toContain(n);
    expect(exportsOf("zmpi/env").map((s) => s.name)).toEqual(expect.arrayContaining(["detectEnvironment", "expandHostlist", "compressHostlist"]));
  });
});
