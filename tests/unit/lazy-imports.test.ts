// Start-up cost: a plain rank, and the launcher that starts it, load only what they need. A
// process pays ~1.5 ms of CPU per module loaded (Node 20's ES module loader; this 2-core VM), and
// a job pays it once per rank: Parquet (hyparquet-writer, 51 modules), tables and bars, experiments
// (zod, yaml, vega) and msgpackr's native string extractor load only when a program asks for them
// (src/env/lazy-module.ts, src/transport/msgpack.ts, launcher/cli.ts), and zmpi itself is a few
// bundled modules (scripts/bundle.mjs), not its ~130 compiled ones.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { fixture, linesOf, runJob } from "../helpers/run.js";

/** Packages and zmpi directories a plain rank or `zmpi launch` must never load. */
const HEAVY = ["hyparquet", "hyparquet-writer", "cli-table3", "cli-progress", "zod", "yaml", "vega", "vega-lite", "msgpackr-extract"];
const HEAVY_ZMPI = ["/src/experiments/", "/dist/bundle/experiments.js", "/launcher/experiments", "/launcher/bench/", "/launcher/advise"];

function packageOf(url: string): string | null {
  const i = url.lastIndexOf("/node_modules/");
  if (i < 0) return null;
  const [a, b] = url.slice(i + "/node_modules/".length).split("/");
  return a!.startsWith("@") ? `${a}/${b}` : a!;
}

/** The heavy packages and files among `urls`, after checking the recorder saw `expected`. */
function heavyIn(line: string | undefined, expected: string, what: string): string[] {
  expect(line, `${what} printed no module list`).toBeDefined();
  const urls = JSON.parse(line!.slice("loaded ".length)) as string[];
  const packages = new Set(urls.map(packageOf).filter((p): p is string => p !== null));
  // The recorder works: a dependency this process certainly loads is seen.
  expect([...packages], `the recorder saw ${expected} in ${what}`).toContain(expected);
  return [...HEAVY.filter((p) => packages.has(p)), ...urls.filter((u) => HEAVY_ZMPI.some((d) => u.includes(d)))];
}

describe("start-up module load", () => {
  it("a plain rank loads no Parquet, table, progress-bar or experiment modules (2 ranks through zmpi launch)", async () => {
    const r = await runJob("loaded-modules.mjs", 2);
    expect(r.code, r.stderr).toBe(0);
    for (const rank of [0, 1]) {
      const line = linesOf(r.stdout, rank).find((l) => l.startsWith("loaded "));
      expect(heavyIn(line, "zeromq", `rank ${rank}`)).toEqual([]);
      // "zmpi" is the bundle: no compiled module of dist/src is loaded one by one.
      const urls = JSON.parse(line!.slice("loaded ".length)) as string[];
      expect(urls.filter((u) => u.includes("/dist/bundle/index.js"))).toHaveLength(1);
      expect(urls.filter((u) => u.includes("/dist/src/"))).toEqual([]);
    }
  });

  it("zmpi launch loads none of the other commands' modules before it starts the ranks", () => {
    const bin = fileURLToPath(new URL("../../launcher/bin.mjs", import.meta.url));
    const r = spawnSync(process.execPath, ["--import", fixture("load-recorder.mjs"), bin, "launch", "-n", "1", fixture("loaded-modules.mjs")], {
      encoding: "utf8",
      timeout: 60_000,
    });
    const line = r.stdout.split("\n").find((l) => l.startsWith("loaded "));
    expect(heavyIn(line, "commander", "zmpi launch")).toEqual([]);
  });
});
