import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { UsageError } from "../../src/errors.js";
import { MAX_HOSTLIST_HOSTS, compressHostlist, expandHostlist } from "../../src/env/hostlist.js";

describe("expandHostlist", () => {
  const cases: Array<[string, string[]]> = [
    ["n1", ["n1"]],
    ["n[1-3],x5", ["n1", "n2", "n3", "x5"]],
    ["node[001-004,007]", ["node001", "node002", "node003", "node004", "node007"]],
    ["node[01-03,7],gpu-a[9-11]", ["node01", "node02", "node03", "node7", "gpu-a9", "gpu-a10", "gpu-a11"]],
    ["n[5]", ["n5"]],
    ["n[08-11]", ["n08", "n09", "n10", "n11"]],
    ["n[98-101]", ["n98", "n99", "n100", "n101"]],
    ["n[1-010]", ["n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10"]],
    ["n[01-3]", ["n01", "n02", "n03"]],
    ["rack[1-2]-n[01-02]", ["rack1-n01", "rack1-n02", "rack2-n01", "rack2-n02"]],
    ["a[1-2]b[3,5]c[7]", ["a1b3c7", "a2b3c7", "a1b5c7", "a2b5c7"]],
    // Three groups: Slurm (22.05, recorded with scontrol) varies the middle one slowest.
    ["rack[1-2]-n[01-02]-g[1-2]", ["rack1-n01-g1", "rack1-n01-g2", "rack2-n01-g1", "rack2-n01-g2", "rack1-n02-g1", "rack1-n02-g2", "rack2-n02-g1", "rack2-n02-g2"]],
    ["a[1-2]b[1-2]c[1-2]d[1]", ["a1b1c1d1", "a2b1c1d1", "a1b2c1d1", "a2b2c1d1", "a1b1c2d1", "a2b1c2d1", "a1b2c2d1", "a2b2c2d1"]],
    ["gpu-[1-2]-ib", ["gpu-1-ib", "gpu-2-ib"]],
    ["n[1,1],n1", ["n1", "n1", "n1"]],
    ["n2,n1,n2", ["n2", "n1", "n2"]],
    ["  n1 n2\tn3\n,, n4 ", ["n1", "n2", "n3", "n4"]],
    ["[1-2]", ["1", "2"]],
    ["n[0-0]", ["n0"]],
  ];
  for (const [input, expected] of cases) {
    it(`expands ${JSON.stringify(input)}`, () => {
      expect(expandHostlist(input)).toEqual(expected);
    });
  }

  const malformed: Array<[string, RegExp]> = [
    ["node[3-1]", /goes downwards/],
    ["node[1-", /never closed/],
    ["node[a-b]", /not a number/],
    ["n[1-2", /never closed/],
    ["n]1[", /without a matching/],
    ["", /no host names/],
    [" , ,\t", /no host names/],
    ["n[]", /empty brackets/],
    ["n[1-]", /incomplete range/],
    ["n[-3]", /incomplete range/],
    ["n[1,,2]", /empty item/],
    ["n[1-2-3]", /not a number/],
    ["n[[1]]", /nested/],
    ["n[1 2]", /not a number/],
    ["n[99999999999999999999]", /too large/],
  ];
  for (const [input, why] of malformed) {
    it(`rejects ${JSON.stringify(input)} with a UsageError quoting it`, () => {
      let error: unknown;
      try {
        expandHostlist(input);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toContain(`"${input}"`);
      expect((error as Error).message).toMatch(why);
    });
  }

  it("refuses absurd expansions before allocating them", () => {
    expect(() => expandHostlist("n[1-100000000]")).toThrow(/more than 1,000,000 hosts/);
    expect(() => expandHostlist("a[1-1000]b[1-1001]")).toThrow(UsageError);
    // The limit is on the whole list, not each entry.
    expect(() => expandHostlist("a[1-600000],b[1-600000]")).toThrow(/limit/);
    expect(expandHostlist(`n[1-${MAX_HOSTLIST_HOSTS}]`)).toHaveLength(MAX_HOSTLIST_HOSTS);
  });
});

describe("compressHostlist", () => {
  const cases: Array<[string[], string]> = [
    [["n1", "n2", "n3", "x5"], "n[1-3],x5"],
    [["node001", "node002", "node003", "node004", "node007"], "node[001-004,007]"],
    [["n9", "n10", "n11"], "n[9-11]"],
    [["n09", "n10"], "n[09-10]"],
    [["n1", "n01", "n02"], "n[1,01-02]"],
    [["n3", "n1", "n2"], "n[3,1-2]"],
    [["n1", "x1", "n2"], "n1,x1,n2"],
    [["n1", "n1"], "n[1,1]"],
    [["n5"], "n5"],
    [["login", "gpu-1-ib", "123"], "login,gpu-1-ib,123"],
    [["rack1-n01", "rack1-n02", "rack2-n01"], "rack1-n[01-02],rack2-n01"],
    [[], ""],
  ];
  for (const [hosts, expected] of cases) {
    it(`compresses ${hosts.join(",") || "[]"} to ${JSON.stringify(expected)}`, () => {
      expect(compressHostlist(hosts)).toBe(expected);
    });
  }

  it("rejects host names that cannot appear in a hostlist", () => {
    for (const bad of ["", "a,b", "n[1]", "a b", "x]"]) {
      expect(() => compressHostlist(["n1", bad])).toThrow(UsageError);
    }
  });

  it("round-trips any list of host names (property)", () => {
    const prefix = fc.constantFrom("n", "node", "gpu-a", "rack1-n", "x", "c0-", "");
    const digits = fc.oneof(
      fc.integer({ min: 0, max: 30 }).map(String),
      fc.integer({ min: 0, max: 30 }).map((n) => String(n).padStart(3, "0")),
      fc.integer({ min: 0, max: 150 }).map((n) => String(n).padStart(2, "0")),
      fc.constant(""),
    );
    const host = fc
      .tuple(prefix, digits, fc.constantFrom("", "", "", "-ib"))
      .map(([p, d, s]) => p + d + s)
      .filter((h) => h !== "");
    // Runs of consecutive hosts make merging likely, not only random singletons.
    const run = fc
      .tuple(prefix, fc.integer({ min: 0, max: 120 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 3 }))
      .map(([p, start, len, width]) => Array.from({ length: len }, (_, i) => (p || "h") + String(start + i).padStart(width, "0")));
    const list = fc
      .array(
        fc.oneof(
          host.map((h) => [h]),
          run,
        ),
        { minLength: 1, maxLength: 12 },
      )
      .map((chunks) => chunks.flat());
    fc.assert(
      fc.property(list, (hosts) => {
        const compressed = compressHostlist(hosts);
        expect(expandHostlist(compressed)).toEqual(hosts);
        // Canonical: compressing the expansion again gives the same text.
        expect(compressHostlist(expandHostlist(compressed))).toBe(compressed);
      }),
      { numRuns: 2000 },
    );
  });
});
