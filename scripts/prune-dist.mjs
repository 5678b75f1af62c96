// Removes compiled files whose TypeScript source is gone (a renamed or deleted module), and source
// maps (the build emits none), so that dist/ — and with it the packed tarball — holds exactly what
// the sources compile to. tsc itself never deletes an output. Safe while other processes run from
// dist/: it touches only files no source produces.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const OUTPUT = /\.(js|d\.ts)$/;

function walk(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

let removed = 0;
for (const sub of ["src", "launcher"]) {
  for (const file of walk(join(dist, sub))) {
    const rel = relative(dist, file);
    const stale = file.endsWith(".map") || (OUTPUT.test(rel) && !existsSync(join(root, rel.replace(OUTPUT, ".ts"))));
    if (!stale) continue;
    rmSync(file, { force: true });
    removed++;
  }
}
if (removed > 0) console.log(`prune-dist: removed ${removed} stale file(s) from dist/`);
