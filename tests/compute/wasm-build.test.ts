// kernels.wasm (committed, so a checkout runs without a build) must be exactly what the
// AssemblyScript sources compile to with the package's build:wasm command.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../src/compute/wasm-loader.js";

describe("kernels.wasm", () => {
  it("matches a fresh build of src/compute/kernels/ with the build:wasm flags", () => {
    const root = packageRoot();
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
    const cmd = pkg.scripts["build:wasm"]!;
    expect(cmd).toMatch(/^asc .* -o src\/compute\/kernels\.wasm$/);
    const dir = mkdtempSync(join(tmpdir(), "zmpi-wasm-"));
    try {
      const out = join(dir, "kernels.wasm");
      const args = cmd
        .replace(/^asc /, "")
        .replace(/-o \S+$/, "")
        .trim()
        .split(/\s+/);
      execFileSync(process.execPath, [join(root, "node_modules", "assemblyscript", "bin", "asc.js"), ...args, "-o", out], { cwd: root, stdio: "pipe" });
      const fresh = readFileSync(out);
      const committed = readFileSync(join(root, "src", "compute", "kernels.wasm"));
      expect(Buffer.compare(fresh, committed), "src/compute/kernels.wasm is stale: run npm run build:wasm").toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
