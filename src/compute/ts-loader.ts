/**
 * TypeScript task modules in pool workers.
 *
 * A rank started with `node --import tsx app.ts` (or `zmpi launch app.ts`) loads `.ts` modules, and
 * so does its task farm, whose tasks run on the rank's own thread. A pool worker is another thread:
 * on Node 20 it does not inherit the module hooks its parent registered, and tsx's `--import` entry
 * registers them on the main thread only, so `pool.run(new URL("./tasks.ts", …))` failed with
 * ERR_UNKNOWN_FILE_EXTENSION wherever zmpi ran compiled (an installed package).
 *
 * Before its first TypeScript module a worker therefore asks whether it can load TypeScript already
 * (a loader that a preload registered in this thread, or Node's own type stripping) by importing a
 * one-line probe, `ts-probe.mts`; if it cannot, it registers tsx in this thread, as the parent's
 * `--import tsx` did in its own. tsx is looked for from the task module's project first, then the
 * working directory, then zmpi's own install (tsx is an optional peer dependency). spawn-worker.ts
 * uses the same lookup to start a worker from zmpi's TypeScript sources (vitest).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { packageRoot } from "./wasm-loader.js";

/** Module extensions a TypeScript loader handles. */
const TS_EXTENSION = /\.(c|m)?tsx?$/;

/** True when `url` (a URL or a path) names a TypeScript module. */
export function isTypeScriptModule(url: string): boolean {
  return TS_EXTENSION.test(url.replace(/[?#].*$/, ""));
}

/**
 * The `file:` URL of one of tsx's entry points, resolved from the first of `bases` (file paths or
 * URLs) that can see a tsx install; null when none can. `"."` is what `node --import tsx` loads;
 * `"./esm/api"` exports `register()`, which installs tsx's hooks in the calling thread.
 */
export function tsxEntryUrl(entry: "." | "./esm/api", bases: readonly (string | URL)[]): string | null {
  for (const base of bases) {
    let manifest: string;
    try {
      manifest = createRequire(base).resolve("tsx/package.json");
    } catch {
      continue;
    }
    // The ESM build, from the package's own exports map (its CommonJS API cannot be import()ed).
    const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { exports?: Record<string, unknown> };
    const spec = pkg.exports?.[entry] as string | { import?: string | { default?: string } } | undefined;
    const imp = typeof spec === "string" ? spec : spec?.import;
    const rel = typeof imp === "string" ? imp : imp?.default;
    if (typeof rel === "string") return pathToFileURL(join(dirname(manifest), rel)).href;
  }
  return null;
}

/** True when this Node runs TypeScript by itself (type stripping, Node 22.18+/23.6+ by default). */
export function nodeStripsTypes(): boolean {
  return Boolean((process.features as { typescript?: string | false }).typescript);
}

/** Node strips types itself, except under node_modules (where the probe sits in an installed zmpi). */
const NATIVE_STRIPPING_CODES = new Set(["ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING"]);

let ready: Promise<void> | null = null;

/**
 * Makes this thread able to import the TypeScript module `moduleUrl`: nothing when it already can,
 * else tsx's hooks registered here. Runs once per thread; rejects, naming the module, when no
 * loader is active and no tsx can be found.
 */
export function ensureTypeScript(moduleUrl: string): Promise<void> {
  ready ??= registerIfNeeded(moduleUrl).catch((e: unknown) => {
    ready = null;
    throw e;
  });
  return ready;
}

async function registerIfNeeded(moduleUrl: string): Promise<void> {
  try {
    await import(pathToFileURL(join(packageRoot(), "src", "compute", "ts-probe.mts")).href);
    return;
  } catch (e) {
    if (NATIVE_STRIPPING_CODES.has((e as NodeJS.ErrnoException).code ?? "")) return;
  }
  const api = tsxEntryUrl("./esm/api", [moduleUrl, join(process.cwd(), "noop.js"), import.meta.url]);
  if (api === null) {
    throw new Error(
      `${moduleUrl} is TypeScript, and this pool worker has no TypeScript loader: tsx is not installed where the module, ` +
        `the working directory or zmpi can see it. Install it (npm install --save-dev tsx) or give a compiled .js/.mjs module.`,
    );
  }
  const tsx = (await import(api)) as { register(): unknown };
  tsx.register();
}
