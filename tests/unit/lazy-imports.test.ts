// Start-up cost: a plain rank loads only what init, messages and finalize need. Each rank pays
// ~1.5 ms of CPU per module loaded (Node 20's ES module loader; this 2-core VM), and a job pays it
// once per rank: Parquet (hyparquet-writer, 51 modules), tables and bars, experiments (zod, yaml,
// vega) load only when a program asks for them (src/env/lazy-module.ts).
import { describe, expect, it } from "vitest";
import { linesOf, runJob } from "../helpers/run.js";

/** Packages and zmpi directories a plain rank must never load. */
const HEAVY = ["hyparquet", "hyparquet-writer", "cli-table3", "cli-progress", "zod", "yaml", "vega", "vega-lite", "cli-highlight"];
const HEAVY_ZMPI = ["/src/experiments/"];

function packageOf(url: string): string | null {
  const i = url.lastIndexOf("/node_modules/");
  if (i < 0) return null;
  const [a, b] = url.slice(i + "/node_modules/".length).split("/");
  return a!.startsWith("@") ? `${a}/${b}` : a!;
}

describe("a plain rank's module load", () => {
  it("loads no Parquet, table, progress-bar or experiment modules (2 ranks through zmpi launch)", async () => {
    const r = await runJob("loaded-modules.mjs", 2);
    expect(r.code, r.stderr).toBe(0);
    for (const rank of [0, 1]) {
      const line = linesOf(r.stdout, rank).find((l) => l.startsWith("loaded "));
      expect(line, `rank ${rank} printed no module list\n${r.stdout}\n${r.stderr}`).toBeDefined();
      const urls = JSON.parse(line!.slice("loaded ".length)) as string[];
      const packages = new Set(urls.map(packageOf).filter((p): p is string => p !== null));
      // The recorder works: the transport's own dependencies are seen.
      expect([...packages], "the recorder saw zeromq").toContain("zeromq");
      expect(
        urls.some((u) => u.includes("/src/world/init.")),
        "the recorder saw zmpi's init",
      ).toBe(true);
      expect(HEAVY.filter((p) => packages.has(p))).toEqual([]);
      expect(urls.filter((u) => HEAVY_ZMPI.some((d) => u.includes(d)))).toEqual([]);
    }
  });
});
