// The same program gives bit-identical random draws at 1, 2, 4 and 8 ranks and with pool sizes
// 1, 2 and 4, and equal to a sequential computation in this process.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { linesOf, runJob } from "../helpers/run.js";
import { createRng } from "../../src/rng/index.js";

// The pool task itself, so this process computes exactly what each worker does, in sequence.
const { drawItem } = (await import(new URL("../fixtures/tasks/rng-item.mjs", import.meta.url).href)) as { drawItem: (a: { seed: number; i: number }) => string };

const SEED = 12345;
const ITEMS = 40;

function expected(): string {
  const h = createHash("sha256").update(new Uint8Array(createRng(SEED, "global").fillUniform(new Float64Array(1000)).buffer));
  for (let i = 0; i < ITEMS; i++) h.update(drawItem({ seed: SEED, i }));
  return h.digest("hex");
}

describe("random streams are independent of the layout", () => {
  const want = expected();
  const layouts: Array<[number, string]> = [
    [1, "1,2,4"],
    [2, "2"],
    [4, "1,2"],
    [8, "1"],
  ];
  for (const [np, pools] of layouts) {
    it(`${np} rank(s), pool size(s) ${pools}: the same hash as one sequential process`, async () => {
      const r = await runJob("rng-layout.ts", np, { env: { ZMPI_SEED: String(SEED), ITEMS: String(ITEMS), POOLS: pools }, timeoutSec: 180 });
      expect(r.code, r.stderr).toBe(0);
      const got = linesOf(r.stdout, 0).filter((l) => l.startsWith("RESULT "));
      expect(got).toEqual(pools.split(",").map((p) => `RESULT pool=${p} items=${ITEMS} ${want}`));
    }, 240_000);
  }
});
