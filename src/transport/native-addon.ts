/**
 * Finds and loads zmpi's one native addon (native/zmpi_native.c and zmpi_shm.c, built by
 * `npm install`), once per process, for the modules that use a part of it: cma.ts (single copy)
 * and shm-segment.ts (shared-memory segments). Each of them checks for the functions it needs and
 * adds its own conditions (platform, settings); this module only says whether the addon loaded,
 * and if not, why.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
/** The addon sits beside the sources; the compiled module (dist/src/transport) finds it from there too. */
const CANDIDATES = [join(here, "native/build/Release/zmpi_native.node"), join(here, "../../../src/transport/native/build/Release/zmpi_native.node")];

/** The addon's exports (each user narrows them to its own interface), or why there are none. */
export type AddonLoad = { addon: Record<string, unknown>; reason: "" } | { addon: null; reason: string };

let loaded: AddonLoad | null = null;

/** Loads the addon on first call; later calls return the same answer. */
export function loadNativeAddon(): AddonLoad {
  if (loaded) return loaded;
  const path = CANDIDATES.find((p) => existsSync(p));
  if (!path) {
    loaded = { addon: null, reason: "the native addon was not built (npm run build:native)" };
    return loaded;
  }
  try {
    loaded = { addon: createRequire(import.meta.url)(path) as Record<string, unknown>, reason: "" };
  } catch (e) {
    loaded = { addon: null, reason: `the native addon failed to load: ${(e as Error).message}` };
  }
  return loaded;
}

let tracer: number | null = null;

/**
 * Names process `pid` as this process's tracer where Yama asks for one (`PR_SET_PTRACER`; see
 * cma.ts), once: single copy and the shared-memory channel both need it, for the same reader
 * (ptrace-scope.ts), and a second identical grant would only repeat the system call. False if the
 * addon is missing or the kernel refused.
 */
export function allowTracer(pid: number): boolean {
  if (tracer === pid) return true;
  const set = loadNativeAddon().addon?.setPtracer as ((pid: number) => boolean) | undefined;
  if (!set?.(pid)) return false;
  tracer = pid;
  return true;
}
