// Second step of scripts/bundle.mjs: turns the ES module bundle into CommonJS bodies behind ES
// module facades, so a rank can compile zmpi from V8's code cache (src/env/code-cache.ts says why:
// Node 20 caches code only for scripts compiled through `vm.Script`, not for ES modules).
//
// For each output module X.js that can be CommonJS (one with a top-level `await` cannot, e.g.
// testing.js, and stays as it is):
// - X.cjs: its code, converted by esbuild (`import.meta.url` becomes the facade's URL, passed in;
//   `import()` calls a function the loader passes in, see rewriteDynamicImports; imports of sibling chunks become `require("./chunk-….cjs")`);
// - X.js: a facade that imports the chunks X imports (so bodies load in the order modules did),
//   imports as ES modules the packages whose CommonJS build is another file (msgpackr: its CJS build
//   would load a second copy and its native extractor eagerly), calls `loadBundled` and re-exports
//   X's names. Built-ins and packages that are CommonJS either way (zeromq) are `require`d.
// The facade exports values, not live bindings: an exported binding a module reassigns would go
// stale, so the build fails on one (`let`, or a `var` assigned again).
// dist/bundle/code-cache.js is the loader itself (src/env/code-cache.ts and what it imports).
import { readFileSync, writeFileSync } from "node:fs";
import { isBuiltin } from "node:module";
import { createRequire } from "node:module";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build, transform } from "esbuild";
import ts from "typescript";

/** The loader module the facades import. */
export const LOADER = "code-cache.js";

/** True when `spec` names the same file to `require` as to `import` (so one instance either way). */
function sameForRequire(spec, from) {
  if (isBuiltin(spec)) return true;
  try {
    return createRequire(from).resolve(spec) === fileURLToPath(import.meta.resolve(spec));
  } catch {
    return false;
  }
}

/**
 * `code` with each dynamic `import(…)` calling `__zmpiImport(…)` instead, which the loader passes
 * in: V8 loses a script's dynamic-import host options when it compiles the script from cached data
 * (the import then fails), and vm's own loader for them warns that it is experimental. Found in the
 * syntax tree, so `import(` inside strings (a worker's bootstrap source) stays as it is.
 */
function rewriteDynamicImports(code, name) {
  const file = ts.createSourceFile(name, code, ts.ScriptTarget.Latest, false, ts.ScriptKind.JS);
  const at = [];
  const visit = (node) => {
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) at.push(node.expression.getStart(file));
    ts.forEachChild(node, visit);
  };
  visit(file);
  let out = code;
  for (const i of at.sort((a, b) => b - a)) {
    if (out.slice(i, i + 6) !== "import") throw new Error(`${name}: no import keyword at ${i}`);
    out = `${out.slice(0, i)}__zmpiImport${out.slice(i + 6)}`;
  }
  return out;
}

/** Exported local names whose binding can change after the module ran (a facade would copy them stale). */
function reassignedExports(code, locals) {
  return locals.filter((local) => {
    const esc = local.replace(/\$/g, "\\$");
    if (new RegExp(`^let ${esc}\\b`, "m").test(code)) return true;
    const assigned =
      code.match(new RegExp(`(?<![\\w$.])${esc}\\s*(?:[-+*/%&|^]|\\*\\*|<<|>>>?|\\?\\?|&&|\\|\\|)?=(?!=|>)|(?:\\+\\+|--)${esc}\\b|\\b${esc}(?:\\+\\+|--)`, "g")) ?? [];
    return assigned.length > (new RegExp(`^var ${esc}\\s*=`, "m").test(code) ? 1 : 0);
  });
}

/**
 * Converts the outputs in `outdir` (esbuild's metafile `outputs`, keys relative to `root`); returns
 * the files written.
 */
export async function convertToBodies({ root, outdir, outputs, version, loaderSource }) {
  const written = [];
  const files = Object.entries(outputs)
    .filter(([p]) => p.endsWith(".js"))
    .map(([p, o]) => ({ path: join(root, p), name: basename(p), meta: o }));
  const convertible = new Map();
  for (const f of files) {
    const text = readFileSync(f.path, "utf8");
    try {
      const r = await transform(rewriteDynamicImports(text, f.name), {
        loader: "js",
        format: "cjs",
        target: "node20",
        define: { "import.meta.url": "__zmpiUrl" },
        supported: { "dynamic-import": true },
        logLevel: "silent",
      });
      if (r.warnings.length > 0) throw new Error(`${f.name}: ${r.warnings.map((w) => w.text).join("; ")}`);
      convertible.set(f.name, { ...f, text, code: r.code });
    } catch (e) {
      if (!/Top-level await/i.test(String(e.message ?? e))) throw e;
    }
  }
  for (const f of convertible.values()) {
    const imports = f.meta.imports.filter((i) => i.kind === "import-statement");
    const chunks = imports.filter((i) => !i.external).map((i) => basename(i.path));
    const stuck = chunks.filter((c) => !convertible.has(c));
    if (stuck.length > 0) throw new Error(`${f.name} imports ${stuck.join(", ")}, which cannot be CommonJS`);
    let code = f.code;
    for (const c of new Set(chunks)) {
      const from = `require("./${c}")`;
      if (!code.includes(from)) throw new Error(`${f.name}: ${from} not found in its CommonJS form`);
      code = code.split(from).join(`require("./${c.replace(/\.js$/, ".cjs")}")`);
    }
    const esm = [...new Set(imports.filter((i) => i.external && !sameForRequire(i.path, f.path)).map((i) => i.path))];
    const exportStmt = /^export \{([^}]*)\};\s*$/m.exec(f.text);
    const pairs = (exportStmt?.[1] ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => {
        const [local, , exported] = s.split(/\s+/);
        return { local, exported: exported ?? local };
      });
    const names = [...f.meta.exports].sort();
    if (
      pairs
        .map((p) => p.exported)
        .sort()
        .join() !== names.join()
    )
      throw new Error(`${f.name}: its export statement does not list its exports (${names.join(", ")})`);
    const stale = reassignedExports(
      f.text,
      pairs.map((p) => p.local),
    );
    if (stale.length > 0) throw new Error(`${f.name} exports bindings it reassigns (${stale.join(", ")}): a facade cannot re-export them`);
    const body = f.path.replace(/\.js$/, ".cjs");
    writeFileSync(body, code);
    const facade = [
      `// Generated by scripts/bundle.mjs: this module's code is in ${basename(body)}, compiled through V8's code cache (src/env/code-cache.ts).`,
      ...[...new Set(chunks)].map((c) => `import "./${c}";`),
      ...esm.map((spec, i) => `import * as __zmpiPkg${i} from ${JSON.stringify(spec)};`),
      `import { loadBundled } from "./${LOADER}";`,
      `const __zmpi = loadBundled(import.meta.url, ${JSON.stringify(basename(body))}, ${JSON.stringify(version)}, {${esm.map((spec, i) => ` ${JSON.stringify(spec)}: __zmpiPkg${i}`).join(",")} });`,
      ...names.map((n, i) => `const __zmpi${i} = __zmpi[${JSON.stringify(n)}];`),
      names.length > 0 ? `export { ${names.map((n, i) => `__zmpi${i} as ${n}`).join(", ")} };` : "",
      "",
    ].join("\n");
    writeFileSync(f.path, facade);
    written.push(body, f.path);
  }
  const loader = join(outdir, LOADER);
  await build({
    entryPoints: [loaderSource],
    outfile: loader,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    keepNames: true,
    legalComments: "none",
    logLevel: "warning",
  });
  written.push(loader);
  return written;
}
