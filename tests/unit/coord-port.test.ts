import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { UsageError } from "../../src/errors.js";
import { deriveCoordinatorPort, fnv1a32, parsePort } from "../../src/env/coord-port.js";

describe("deriveCoordinatorPort", () => {
  it("follows 61440 + (job mod 256) * 16 + (step mod 16)", () => {
    expect(deriveCoordinatorPort("0", "0")).toBe(61440);
    expect(deriveCoordinatorPort("5", "0")).toBe(61440 + 5 * 16);
    expect(deriveCoordinatorPort("5", "1")).toBe(61440 + 5 * 16 + 1);
    expect(deriveCoordinatorPort("255", "15")).toBe(65535);
    expect(deriveCoordinatorPort("256", "16")).toBe(61440);
    expect(deriveCoordinatorPort("1234567", "3")).toBe(61440 + (1234567 % 256) * 16 + 3);
    // Ids longer than 2^53 stay exact.
    expect(deriveCoordinatorPort("123456789012345678901", "0")).toBe(61440 + Number(123456789012345678901n % 256n) * 16);
  });

  it("gives up to 16 concurrent steps of one job different ports", () => {
    const ports = new Set(Array.from({ length: 16 }, (_, s) => deriveCoordinatorPort("4242", String(s))));
    expect(ports.size).toBe(16);
  });

  it("gives jobs whose ids differ by less than 256 different ports", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 1, max: 255 }), fc.nat(15), (job, d, step) => {
        expect(deriveCoordinatorPort(String(job), String(step))).not.toBe(deriveCoordinatorPort(String(job + d), String(step)));
      }),
    );
  });

  it("always lands in 61440..65535 and is deterministic, for any ids", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (job, step) => {
        const port = deriveCoordinatorPort(job, step);
        expect(port).toBeGreaterThanOrEqual(61440);
        expect(port).toBeLessThanOrEqual(65535);
        expect(deriveCoordinatorPort(job, step)).toBe(port);
      }),
    );
  });

  it("hashes non-numeric ids with FNV-1a 32", () => {
    // Reference values of FNV-1a 32-bit.
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
    expect(deriveCoordinatorPort("123+0", "0")).toBe(61440 + (fnv1a32("123+0") % 256) * 16);
    expect(deriveCoordinatorPort("9f3ac01b", "batch")).toBe(61440 + (fnv1a32("9f3ac01b") % 256) * 16 + (fnv1a32("batch") % 16));
  });
});

describe("parsePort", () => {
  it("accepts 1..65535", () => {
    expect(parsePort("1", "P")).toBe(1);
    expect(parsePort("29500", "MASTER_PORT")).toBe(29500);
    expect(parsePort("65535", "P")).toBe(65535);
  });
  for (const bad of ["0", "65536", "", "-1", "1.5", "3x", " 80", "0x50", "100000"]) {
    it(`rejects ${JSON.stringify(bad)} naming the variable`, () => {
      expect(() => parsePort(bad, "ZMPI_COORD_PORT")).toThrow(UsageError);
      expect(() => parsePort(bad, "ZMPI_COORD_PORT")).toThrow(`ZMPI_COORD_PORT="${bad}"`);
    });
  }
});
