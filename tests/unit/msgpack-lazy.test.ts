// msgpackr's native string extractor (msgpackr-extract) is not loaded at start-up, and is loaded
// by the first large value a program receives (src/transport/msgpack.ts); values decode the same
// before and after. In a fresh process, from the compiled modules, so nothing else has loaded
// msgpackr's full entry first.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const values = new URL("../../dist/src/comm/values.js", import.meta.url).href;

const script = `
const { packValue, unpackValue } = await import(${JSON.stringify(values)});
const { NATIVE_STRINGS_MIN_BYTES } = await import(${JSON.stringify(new URL("../../dist/src/transport/msgpack.js", import.meta.url).href)});
const m = await import("msgpackr/unpack");
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const small = { rank: 3, name: "é".repeat(200) };
const big = Array.from({ length: 3000 }, (_, i) => ({ name: "row-" + i, text: "ü–" + "x".repeat(i % 40) }));
const bigBytes = packValue(big);
const seen = { atStart: m.isNativeAccelerationEnabled, bigBytes: bigBytes.length, min: NATIVE_STRINGS_MIN_BYTES };
seen.smallSame = same(unpackValue(packValue(small)), small);
seen.afterSmall = m.isNativeAccelerationEnabled;
seen.bigSame = same(unpackValue(bigBytes), big);
for (let i = 0; i < 200 && !m.isNativeAccelerationEnabled; i++) await new Promise((r) => setTimeout(r, 50));
seen.afterBig = m.isNativeAccelerationEnabled;
seen.bigSameNative = same(unpackValue(bigBytes), big) && same(unpackValue(packValue(small)), small);
console.log(JSON.stringify(seen));
`;

describe("msgpackr's native string extractor", () => {
  it("is loaded by the first large value received, not at start-up, and values decode the same", () => {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: repo, encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const seen = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(seen.bigBytes as number).toBeGreaterThanOrEqual(seen.min as number);
    expect(seen).toMatchObject({ atStart: false, smallSame: true, afterSmall: false, bigSame: true, afterBig: true, bigSameNative: true });
  });
});
