/**
 * The packed tarball is the product: packed here, installed by npm into a fresh project outside
 * the repository, and used from there as a user would (`npx zmpi`, `import … from "zmpi"`,
 * `zmpi/testing` under vitest, `srun`).
 *
 * zmpi and its runtime dependencies come from the tarball through npm (from its cache when it has
 * them). The user's dev tools (tsx, vitest, typescript, @types/node) are linked in from the
 * repository's node_modules rather than installed, to keep this test's time modest; they are
 * linked only after the checks that zmpi works, and fails clearly, without them. The tarball is
 * packed with --ignore-scripts from the dist/ that `npm test`'s pretest built: running prepack
 * here would rewrite dist/ under the other test files' ranks.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { slurmSkipReason } from "../helpers/slurm.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "zmpi-package-"));
const project = join(work, "project");
const installed = join(project, "node_modules", "zmpi");
const timings: string[] = [];
let packed: { filename: string; files: { path: string }[] };
let install: SpawnSyncReturns<string>;

/** The environment a user's shell would have: none of npm's script variables, no job variables. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|INIT_CWD$|ZMPI_|SLURM_|VITEST|NODE_OPTIONS$)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutSec?: number } = {}): SpawnSyncReturns<string> {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? project, env: userEnv(opts.env), encoding: "utf8", timeout: (opts.timeoutSec ?? 180) * 1000 });
  timings.push(`${cmd} ${args.join(" ")}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return r;
}

function show(r: SpawnSyncReturns<string>): string {
  return `status ${r.status} signal ${r.signal} ${r.error?.message ?? ""}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** Links a dev tool from the repository's node_modules into the project's, as if installed. */
function link(name: string): void {
  const at = join(project, "node_modules", name);
  mkdirSync(dirname(at), { recursive: true });
  if (!existsSync(at)) symlinkSync(join(repo, "node_modules", name), at, "dir");
}

/** Code blocks of a README section whose first line is `// <path>`, by path. */
function readmeFiles(section: string): Map<string, string> {
  const readme = readFileSync(join(repo, "README.md"), "utf8");
  const start = readme.indexOf(`\n## ${section}\n`);
  expect(start, `README section "${section}"`).toBeGreaterThan(0);
  const body = readme.slice(start + 1, readme.indexOf("\n## ", start + 1));
  const files = new Map<string, string>();
  for (const m of body.matchAll(/```(?:ts|js)\n\/\/ (\S+)\n([\s\S]*?)```/g)) files.set(m[1]!, m[2]!);
  return files;
}

const POOL_MJS = `import { init } from "zmpi";

const world = await init();
try {
  await world.pool({ size: 1 }).run(new URL("./tasks.ts", import.meta.url), "cube", 2);
  console.log("pool ran a .ts task");
} catch (e) {
  console.log(\`pool error: \${e.message}\`);
}
await world.finalize();
`;

beforeAll(() => {
  expect(existsSync(join(repo, "dist", "launcher", "cli.js")), "dist/ is missing: run npm run build (npm test's pretest does)").toBe(true);
  const p = run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], { cwd: repo });
  expect(p.status, show(p)).toBe(0);
  packed = (JSON.parse(p.stdout) as (typeof packed)[])[0]!;
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "zmpi-user", version: "1.0.0", private: true, type: "module" }, null, 2));
  install = run("npm", ["install", join(work, packed.filename), "--prefer-offline", "--no-audit", "--no-fund", "--foreground-scripts"], { timeoutSec: 480 });
  expect(install.status, show(install)).toBe(0);
  const files = new Map([["pool.mjs", POOL_MJS], ...readmeFiles("Use it in your project"), ...readmeFiles("Test your own programs")]);
  expect([...files.keys()].sort()).toEqual(["app.mjs", "app.ts", "pool.mjs", "tasks.ts", "test/app.test.ts"]);
  for (const [name, text] of files) {
    mkdirSync(dirname(join(project, name)), { recursive: true });
    writeFileSync(join(project, name), text);
  }
}, 600_000);

afterAll(() => {
  console.log(`package test timings:\n  ${timings.join("\n  ")}`);
  rmSync(work, { recursive: true, force: true });
});

describe("the packed tarball", () => {
  it("holds what runs (dist with types, the CLI, the WASM kernels, the addon's sources, slurm/) and no tests, fixtures or bench results", () => {
    const files = packed.files.map((f) => f.path);
    const byDir = new Map<string, number>();
    for (const f of files) byDir.set(f.split("/").slice(0, 2).join("/"), (byDir.get(f.split("/").slice(0, 2).join("/")) ?? 0) + 1);
    console.log(`${packed.filename}: ${files.length} files: ${[...byDir].map(([d, n]) => `${d} ${n}`).join(", ")}`);
    for (const f of [
      "package.json",
      "README.md",
      "launcher/bin.mjs",
      "dist/launcher/cli.js",
      "dist/src/index.js",
      "dist/src/index.d.ts",
      "dist/bundle/index.js",
      "dist/bundle/testing.js",
      "dist/bundle/env.js",
      "dist/src/testing/index.js",
      "dist/src/testing/index.d.ts",
      "dist/src/env/public.js",
      "dist/src/env/public.d.ts",
      "dist/src/compute/worker.js",
      "src/compute/kernels.wasm",
      "src/compute/ts-probe.mts",
      "src/transport/native/binding.gyp",
      "src/transport/native/zmpi_native.c",
      "src/transport/native/build.mjs",
      "slurm/multi-node.sbatch",
    ]) {
      expect(files, f).toContain(f);
    }
    const unwanted = files.filter(
      (f) =>
        /(^|\/)(tests?|fixtures|bench-results|examples|node_modules|coverage)\//.test(f) ||
        /\.(test|spec)\.|\.map$|\.tsbuildinfo$/.test(f) ||
        (/^(src|launcher)\/.*\.ts$/.test(f) && !f.endsWith(".d.ts")),
    );
    expect(unwanted).toEqual([]);
    // dist/ holds only what today's sources compile to (no output of a deleted module), and the
    // bundle made of them (scripts/bundle.mjs removes an earlier build's chunks).
    const bundled = new Set(readdirSync(join(repo, "dist", "bundle")).map((f) => `dist/bundle/${f}`));
    const orphans = files.filter((f) => f.startsWith("dist/") && !bundled.has(f) && !existsSync(join(repo, f.slice("dist/".length).replace(/\.(d\.ts|js)$/, ".ts"))));
    expect(orphans).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.prepack).toMatch(/build/);
  });

  it("installs without a TypeScript or AssemblyScript toolchain, and builds the addon where a compiler exists", () => {
    expect(install.stdout + install.stderr).not.toMatch(/WARNING: the native addon did not build/);
    expect(existsSync(join(installed, "src/transport/native/build/Release/zmpi_native.node"))).toBe(true);
    const info = run("npx", ["--no", "zmpi", "info"]);
    expect(info.stdout, show(info)).toMatch(/single-copy \(same machine\)\s*│\s*available \(cross-memory attach\)/);
    for (const dev of ["typescript", "assemblyscript", "tsx", "vitest"]) expect(existsSync(join(project, "node_modules", dev)), dev).toBe(false);
  });

  it("without tsx: a .ts program is refused with what to install, and a .ts pool task fails naming its module", () => {
    const ts = run("npx", ["--no", "zmpi", "launch", "-n", "2", "app.ts"]);
    expect(ts.status).not.toBe(0);
    expect(ts.stderr).toMatch(/app\.ts is TypeScript.*npm install --save-dev tsx/);
    const pool = run("npx", ["--no", "zmpi", "launch", "-n", "1", "pool.mjs"]);
    expect(pool.status, show(pool)).toBe(0);
    expect(pool.stdout).toMatch(/pool error: file:.*tasks\.ts is TypeScript, and this pool worker has no TypeScript loader/);
  });

  it("npx zmpi launch -n 2 app.mjs runs a JavaScript program", () => {
    const r = run("npx", ["--no", "zmpi", "launch", "-n", "2", "app.mjs"]);
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toContain("[1] rank 1 of 2: sum 1");
  });

  it("with tsx beside it, the README's commands run there as written: .mjs and .ts programs (pool tasks from a .ts module) by npx zmpi launch and by srun -N2 -n4", () => {
    const readme = readFileSync(join(repo, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("\n## Use it in your project\n"), readme.indexOf("\n## Develop and test\n"));
    const commands = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split("\n")).map((l) => l.replace(/\s+#.*$/, "").trim());
    const runnable = commands.filter((c) => c && !c.startsWith("npm install"));
    expect(runnable).toEqual(["npx zmpi launch -n 4 app.mjs", "npx zmpi launch -n 4 app.ts", "srun -N2 -n4 node app.mjs", "srun -N2 -n4 node --import tsx app.ts"]);
    link("tsx");
    const skip = slurmSkipReason();
    for (const cmd of runnable) {
      if (cmd.startsWith("srun") && skip !== null) {
        console.log(`skipped: ${cmd}: ${skip}`);
        continue;
      }
      const r = run("bash", ["-c", cmd]);
      expect(r.status, `${cmd}\n${show(r)}`).toBe(0);
      const prefix = cmd.startsWith("npx") ? "[3] " : "";
      expect(r.stdout, cmd).toContain(cmd.includes("app.ts") ? `${prefix}app.ts rank 3 of 4: sum 10, cubes 27 27` : `${prefix}rank 3 of 4: sum 6`);
    }
  });

  it("the user's TypeScript compiles against the shipped declarations (zmpi, zmpi/testing, zmpi/env)", () => {
    for (const tool of ["typescript", "@types/node", "vitest", "tsx"]) link(tool);
    const tsconfig = {
      compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, types: ["node"], skipLibCheck: true },
      include: ["*.ts", "test/*.ts"],
    };
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify(tsconfig));
    // One compile: the programs, the README's test, and one wrong call, which must be the only error
    // (so the check can fail, through the shipped types).
    writeFileSync(
      join(project, "wrong.ts"),
      `import { runJob } from "zmpi/testing";\nawait runJob({ np: "2", script: "app.mjs" });\n` +
        `import { expandHostlist, readSettings } from "zmpi/env";\nexport const hosts: string[] = expandHostlist("n[1-2]");\nexport const timeout: number | undefined = readSettings({}).timeoutSec;\n`,
    );
    const r = run(process.execPath, [join(project, "node_modules/typescript/bin/tsc"), "-p", "."]);
    rmSync(join(project, "wrong.ts"));
    const errors = r.stdout.split("\n").filter((l) => l.includes("error TS"));
    expect(errors, show(r)).toHaveLength(1);
    expect(errors[0]).toMatch(/^wrong\.ts\(2,.*Type 'string' is not assignable to type 'number'/);
  });

  it("the README's vitest example runs with zmpi/testing", () => {
    for (const tool of ["vitest", "tsx"]) link(tool);
    const r = run(process.execPath, [join(project, "node_modules/vitest/vitest.mjs"), "run", "--reporter=verbose"], { timeoutSec: 300, env: { NO_COLOR: "1" } });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toMatch(/sums the ranks in one process/);
    expect(r.stdout).toMatch(/runs app\.mjs on 3 local processes/);
    const reason = slurmSkipReason();
    if (reason === null) expect(r.stdout).toMatch(/under Slurm > runs app\.mjs on two nodes/);
    else expect(r.stdout).toMatch(/under Slurm \(skipped: /);
  });

  it("where the addon cannot be compiled, the install step warns and exits 0, and zmpi still runs", () => {
    const rebuild = run("npm", ["rebuild", "zmpi", "--foreground-scripts"], { env: { CC: "false", CXX: "false" } });
    expect(rebuild.status, show(rebuild)).toBe(0);
    expect(rebuild.stdout + rebuild.stderr).toMatch(/WARNING: the native addon did not build/);
    expect(existsSync(join(installed, "src/transport/native/build/Release/zmpi_native.node"))).toBe(false);
    const info = run("npx", ["--no", "zmpi", "info"]);
    expect(info.stdout, show(info)).toMatch(/single-copy \(same machine\)\s*│\s*off: the native addon was not built/);
    const r = run("npx", ["--no", "zmpi", "launch", "-n", "2", "app.mjs"]);
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toContain("[1] rank 1 of 2: sum 1");
  });
});
