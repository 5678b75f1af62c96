/**
 * Our hostlist parser against Slurm's own (`scontrol show hostnames`), on a few hundred generated
 * lists: prefixes with `-`, `_`, `.` and digits, zero padding, several ranges per bracket,
 * several bracket groups per name, overlapping ranges and repeated entries, comma and space
 * separators.
 *
 * The local cluster runs Slurm 22.05, which rejects text after the last bracket
 * (`gpu-[1-2]-ib`, supported from 23.11), so the generator never produces that form; it is
 * covered by the unit tests instead.
 */
import { describe, it, expect } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import fc from "fast-check";
import { expandHostlist } from "../../src/env/hostlist.js";
import { resolveHostAddress } from "../../src/env/resolve.js";

function probeScontrol(): string | null {
  const which = spawnSync("bash", ["-c", "command -v scontrol"], { encoding: "utf8" });
  if (which.status !== 0) return "scontrol not found on PATH (run ../shared/slurm-local/setup.sh)";
  const probe = spawnSync("scontrol", ["show", "hostnames", "n[1-2]"], { encoding: "utf8" });
  if (probe.status !== 0 || probe.stdout !== "n1\nn2\n") {
    return `scontrol does not work here (${(probe.stderr || probe.stdout || String(probe.error)).trim()})`;
  }
  return null;
}

const skipReason = probeScontrol();
if (skipReason) console.warn(`skipped: ${skipReason}`);

const SEPARATOR = "@@@zmpi@@@";

/** Expands every list with one `scontrol` per list but a single shell, to keep it fast. */
function scontrolExpand(lists: string[]): string[][] {
  const script = `for l in "$@"; do echo '${SEPARATOR}'; scontrol show hostnames "$l" 2>&1; done`;
  const out = execFileSync("bash", ["-c", script, "bash", ...lists], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const chunks = out.split(`${SEPARATOR}\n`).slice(1);
  expect(chunks).toHaveLength(lists.length);
  return chunks.map((chunk) => chunk.split("\n").filter((line) => line !== ""));
}

const prefix = fc.constantFrom("n", "node", "gpu-a", "r1-n", "c_", "x.y", "ab9", "");
const padded = (n: number, width: number): string => String(n).padStart(width, "0");

/** One `lo-hi` or `lo` item, padded like a real cluster's names sometimes are. */
const rangeItem = fc
  .tuple(fc.integer({ min: 0, max: 130 }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 1, max: 4 }), fc.boolean())
  .map(([lo, len, width, single]) => (single ? padded(lo, width) : `${padded(lo, width)}-${lo + len}`));

const bracket = fc.array(rangeItem, { minLength: 1, maxLength: 3 }).map((items) => `[${items.join(",")}]`);

/** A name with 1–3 bracket groups, always ending with a bracket (22.05 has no suffix form). */
const bracketed = fc.array(fc.tuple(prefix, bracket), { minLength: 1, maxLength: 3 }).map((groups) => groups.map(([p, b], i) => (i === 0 ? p : p || "-") + b).join(""));

const plain = fc
  .tuple(fc.constantFrom("n", "login", "gpu-a", "x"), fc.option(fc.integer({ min: 0, max: 200 })), fc.integer({ min: 1, max: 3 }))
  .map(([p, n, width]) => (n === null ? p : p + padded(n, width)));

const hostlist = fc
  .array(fc.oneof({ weight: 3, arbitrary: bracketed }, { weight: 1, arbitrary: plain }), { minLength: 1, maxLength: 4 })
  .chain((entries) =>
    // Repeat an entry now and then: duplicates must survive, in order.
    fc.boolean().map((dup) => (dup ? [...entries, entries[0]] : entries)),
  )
  .chain((entries) => fc.constantFrom(",", " ", ", ").map((sep) => entries.join(sep)));

describe.skipIf(skipReason !== null)("expandHostlist agrees with scontrol show hostnames", () => {
  it("on the hostlists of the slurm-local README and the multi-group orders", () => {
    const lists = [
      "n[1-3],x5",
      "node[01-03,7],gpu-a[9-11]",
      "n[1-010]",
      "rack[1-2]-n[01-02]",
      "rack[1-2]-n[01-02]-g[1-2]",
      "a[1-2]b[1-2]c[1-2]d[1-2]",
      "n[1,1],n1",
      "n[3,1]",
      "n[08-100]",
    ];
    const theirs = scontrolExpand(lists);
    lists.forEach((list, i) => expect([list, expandHostlist(list)]).toEqual([list, theirs[i]]));
  });

  it("on 400 generated hostlists", () => {
    const lists = fc.sample(hostlist, { seed: 20240611, numRuns: 400 });
    const theirs = scontrolExpand(lists);
    let hosts = 0;
    lists.forEach((list, i) => {
      // Pair the list with the result so a failure names the input.
      expect([list, expandHostlist(list)]).toEqual([list, theirs[i]]);
      hosts += theirs[i]?.length ?? 0;
    });
    // The generator really produced multi-host lists, not 400 trivial ones.
    expect(hosts).toBeGreaterThan(4000);
  });

  it("resolves the pretend node n1 to its loopback address", async () => {
    expect(await resolveHostAddress("n1")).toBe("127.0.2.1");
  });
});
