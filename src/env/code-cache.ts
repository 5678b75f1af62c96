/**
 * Loads zmpi's bundle through V8's code cache, so a rank does not compile zmpi afresh.
 *
 * Why: every rank of every job compiles the same ~450 KB of zmpi: the bundle's top level when it is
 * imported, then each function `init()` and `finalize()` run, lazily, the first time (~25-30 ms of
 * CPU to import, another ~30 ms in the first barrier; Node 20, this 2-core VM). Node 20 offers no
 * code cache for ES modules (`module.enableCompileCache` is Node 22), only for scripts compiled with
 * `vm.Script` and `cachedData`. So scripts/bundle.mjs also writes each module of the bundle as a
 * CommonJS body (`*.cjs`) and turns its `*.js` into a small ES module facade that calls
 * {@link loadBundled} and re-exports the names: the public ES module API and its types are
 * unchanged, and each class still exists once (the bodies share one registry, as the chunks did).
 *
 * A body compiles with the cache from the previous job when there is one (env/code-cache-store.ts
 * says where it lives and why that is safe); after this process's first `finalize()`
 * (env/code-cache-hook.ts) the code of bodies that had none, or whose cache V8 rejected, is saved
 * with everything compiled so far. `ZMPI_CODE_CACHE=0` turns reading and writing off; a cache that
 * cannot be used changes nothing but the time.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";
import { CODE_CACHE_SLOT, type CodeCacheHandle } from "./code-cache-hook.js";
import { cacheFileName, codeCacheDir, codeCacheEnabled, privateDirProblem, pruneCaches, readCache, writeCache } from "./code-cache-store.js";

/** How one body's cache went, for tests and diagnostics. */
export type CacheOutcome = "off" | "unusable dir" | "absent" | "used" | "rejected";

interface Body {
  module: { exports: Record<string, unknown> };
  script: vm.Script;
  cacheFile: string | null;
  key: string;
  outcome: CacheOutcome;
  /** Identity of the cache file V8 rejected (so a newer one written meanwhile is left alone). */
  rejectedId: string | null;
}

const bodies = new Map<string, Body>();
/** Packages a body imports as ES modules (their CommonJS build would be another instance). */
const esmPackages = new Map<string, unknown>();
let dir: string | null | undefined;
let saved = false;
const written: string[] = [];

/** The usable cache directory, or null (off, or refused: see env/code-cache-store.ts). */
function cacheDir(): string | null {
  if (dir === undefined) {
    const d = codeCacheDir();
    dir = codeCacheEnabled() && privateDirProblem(d) === null ? d : null;
  }
  return dir;
}

/**
 * The exports of the CommonJS body `file` (next to the facade at `facadeUrl`), compiled from the
 * code cache when there is a usable one; loaded once per process.
 * @param packages packages the body imports that its facade loaded as ES modules, by specifier
 */
export function loadBundled(facadeUrl: string, file: string, version: string, packages: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [spec, ns] of Object.entries(packages)) esmPackages.set(spec, { __esModule: true, ...(ns as object) });
  return load(join(dirname(fileURLToPath(facadeUrl)), file), facadeUrl, version);
}

function load(path: string, url: string, version: string): Record<string, unknown> {
  const known = bodies.get(path);
  if (known) return known.module.exports;
  // One line of wrapper before the body's first line: stack traces keep the body's line numbers.
  const source = `(function (exports, require, module, __zmpiUrl, __zmpiImport) {"use strict";${readFileSync(path, "utf8")}\n})`;
  const key = `zmpi ${version} | sha256 ${createHash("sha256").update(source).digest("hex")} | node ${process.version} ${process.arch} | v8 ${v8.cachedDataVersionTag()}`;
  const enabled = codeCacheEnabled();
  const d = enabled ? cacheDir() : null;
  const cacheFile = d === null ? null : join(d, cacheFileName(path.replace(/^.*[\\/]/, "").replace(/\.cjs$/, ""), key));
  const cached = cacheFile === null ? null : readCache(cacheFile, key);
  const script = new vm.Script(source, {
    filename: path,
    cachedData: cached?.data,
  });
  const outcome: CacheOutcome = !enabled ? "off" : d === null ? "unusable dir" : cached === null ? "absent" : script.cachedDataRejected ? "rejected" : "used";
  const body: Body = { module: { exports: {} }, script, cacheFile, key, outcome, rejectedId: outcome === "rejected" ? cached!.id : null };
  bodies.set(path, body);
  const fallback = createRequire(path);
  const require = (spec: string): unknown => {
    if (spec.startsWith("./") && spec.endsWith(".cjs")) return load(join(dirname(path), spec), new URL(spec.replace(/\.cjs$/, ".js"), url).href, version);
    return esmPackages.has(spec) ? esmPackages.get(spec) : fallback(spec);
  };
  // The body's `import()` calls (scripts/bundle-cjs.mjs): a relative module is the facade's sibling;
  // a package resolves from this file, which sits in the same directory as the body.
  const dynamicImport = (spec: string) => import(/^\.\.?\//.test(spec) ? new URL(spec, url).href : spec);
  type Wrapper = (e: unknown, r: unknown, m: unknown, u: string, i: typeof dynamicImport) => void;
  (script.runInThisContext() as Wrapper).call(body.module.exports, body.module.exports, require, body.module, url, dynamicImport);
  return body.module.exports;
}

/** Each loaded body's cache outcome, by file (for tests). */
export function codeCacheOutcomes(): Record<string, CacheOutcome> {
  return Object.fromEntries([...bodies].map(([path, b]) => [path, b.outcome]));
}

/**
 * Saves the code of every body loaded without a usable cache, with all its functions compiled so
 * far; once per process. A cache another process wrote meanwhile is kept; of processes saving at
 * once, one writes (env/code-cache-store.ts).
 */
export function saveCodeCache(): void {
  if (saved) return;
  saved = true;
  for (const b of bodies.values()) {
    if (b.cacheFile === null || (b.outcome !== "absent" && b.outcome !== "rejected")) continue;
    if (writeCache(b.cacheFile, b.key, () => b.script.createCachedData(), b.rejectedId)) written.push(b.cacheFile);
  }
  const d = cacheDir();
  if (written.length > 0 && d !== null) pruneCaches(d, new Set([...bodies.values()].flatMap((b) => (b.cacheFile === null ? [] : [b.cacheFile]))));
}

/** The cache files this process wrote (for tests: of processes saving at once, one writes each). */
export function codeCacheWrites(): readonly string[] {
  return written;
}

const handle: CodeCacheHandle = { save: saveCodeCache };
(globalThis as { [CODE_CACHE_SLOT]?: CodeCacheHandle })[CODE_CACHE_SLOT] = handle;
