// Bundles the compiled public entry points (dist/src/index.js, env/public.js, testing/index.js,
// experiments/index.js) into a few ES modules in dist/bundle/, which package.json's `exports`
// name. Why: every rank imports zmpi, and Node 20's ES module loader costs ~1.5 ms of CPU per
// module (resolve, open, read, compile; this 2-core VM): the ~130 compiled modules of the public
// index cost each rank ~180 ms, a 32-rank job ~6 CPU-seconds, before any rank does anything.
// Bundled, a rank loads 6 zmpi modules (index.js and the chunks it shares with the subpaths), and
// `import "zmpi"` costs ~140 ms of CPU instead of ~280 (zeromq and msgpackr included; measured).
//
// - Input is tsc's output, so the bundle runs exactly the JavaScript the tests compile and check;
//   the declarations (.d.ts) stay where tsc writes them and `types` points there.
// - One build with code splitting over all four entry points: a class exists once however a
//   program reaches it (a `UsageError` thrown under `zmpi/testing` is `instanceof` the one from
//   `zmpi`).
// - Packages stay external (zeromq and msgpackr load their native parts themselves), as do
//   Node's built-ins.
// - `import.meta.url` keeps meaning the compiled file's own location (dist/src/compute/pool.js,
//   dist/launcher/launch.js, which zmpi/testing's runJob uses, …): worker entries, the WASM
//   kernels and the native addon are found relative to it, and those files stay where tsc wrote
//   them.
// - Names are kept (errors set `this.name = new.target.name`; stack traces name functions).
// - Then each module that can be becomes a CommonJS body behind an ES module facade, compiled
//   through V8's code cache at run time (scripts/bundle-cjs.mjs, src/env/code-cache.ts).
// - Files of earlier builds (chunks have content hashes) are removed after the new ones are
//   written, as prune-dist.mjs does for dist/src.
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { build, transform } from "esbuild";
import { convertToBodies } from "./bundle-cjs.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const compiled = join(dist, "src");
const outdir = join(dist, "bundle");

/** Output name → compiled entry module (package.json's `exports` map the subpaths onto these). */
export const ENTRIES = {
  index: join(compiled, "index.js"),
  env: join(compiled, "env", "public.js"),
  testing: join(compiled, "testing", "index.js"),
  experiments: join(compiled, "experiments", "index.js"),
};

/** A module's `import.meta.url` after bundling: its compiled file's URL, computed from the bundle's. */
const metaUrlPlugin = {
  name: "zmpi-module-url",
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, async ({ path }) => {
      const text = readFileSync(path, "utf8");
      if (!path.startsWith(dist + sep) || !text.includes("import.meta")) return { contents: text, loader: "js" };
      const { code } = await transform(text, { loader: "js", format: "esm", target: "node20", define: { "import.meta.url": "__zmpiModuleUrl" } });
      // Only import.meta.url is carried over (found in the syntax tree: comments and messages mention it).
      const rest = await transform(code, { loader: "js", format: "esm", define: { "import.meta": "__zmpiImportMeta" } });
      if (rest.code.includes("__zmpiImportMeta")) throw new Error(`${path}: import.meta other than import.meta.url cannot be bundled`);
      const fromBundle = relative(outdir, path).split(sep).join("/");
      return { contents: `const __zmpiModuleUrl = new URL(${JSON.stringify(fromBundle)}, import.meta.url).href;\n${code}`, loader: "js" };
    });
  },
};

const result = await build({
  absWorkingDir: root,
  entryPoints: ENTRIES,
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  chunkNames: "chunk-[hash]",
  keepNames: true,
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
  plugins: [metaUrlPlugin],
});

const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const bodies = await convertToBodies({ root, outdir, outputs: result.metafile.outputs, version, loaderSource: join(compiled, "env", "code-cache.js") });
const written = new Set([...Object.keys(result.metafile.outputs).map((p) => join(root, p)), ...bodies]);
let removed = 0;
for (const f of readdirSync(outdir)) {
  if (written.has(join(outdir, f))) continue;
  rmSync(join(outdir, f), { force: true });
  removed++;
}
if (removed > 0) console.log(`bundle: removed ${removed} file(s) of an earlier build from dist/bundle/`);
