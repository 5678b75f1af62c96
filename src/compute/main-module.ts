/**
 * Is a module URL the program's main script? Work referenced by module (pool tasks, farm tasks)
 * must not live there: a farm worker rank's `import()` of its own main module waits for that
 * module to finish evaluating, which it never does while it serves tasks (a deadlock that used to
 * surface only at `ZMPI_TIMEOUT`, as a "dead" rank), and a pool thread importing it would run the
 * whole program again (`init()` and all) inside a worker.
 */
import { realpathSync } from "node:fs";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";

function real(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

let mainPath: string | null | undefined;

/** The main script's real path (`process.argv[1]`, with Node's extension lookup), or null. */
function mainScriptPath(): string | null {
  if (mainPath !== undefined) return mainPath;
  const arg = process.argv[1];
  if (!arg) {
    mainPath = null;
    return mainPath;
  }
  const candidates = extname(arg) ? [arg] : [arg, `${arg}.js`, `${arg}.mjs`, `${arg}.cjs`, `${arg}.ts`];
  for (const c of candidates) {
    const r = real(c);
    if (r) {
      mainPath = r;
      return mainPath;
    }
  }
  mainPath = null;
  return mainPath;
}

/** True when `href` (a `file:` URL) names the running main script. */
export function isMainModule(href: string): boolean {
  if (!href.startsWith("file:")) return false;
  const main = mainScriptPath();
  if (!main) return false;
  let path: string;
  try {
    path = fileURLToPath(href.replace(/[?#].*$/, ""));
  } catch {
    return false;
  }
  return real(path) === main;
}

/** The fix, in words, for an error message. */
export function moveTaskAdvice(href: string, exportName: string): string {
  const base = fileURLToPath(href.replace(/[?#].*$/, ""));
  return `"${exportName}" is exported by ${base}, the program's main script: move it to a module of its own (e.g. ./tasks.ts) and pass new URL("./tasks.ts", import.meta.url)`;
}
