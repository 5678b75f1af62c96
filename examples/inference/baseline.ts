// The single-process baseline of the inference example: the same model as serve.ts, computed
// plainly (every layer whole, one prompt after another), writing the reference table.
//   node --import tsx examples/inference/baseline.ts [--prompts 24 --tokens 6 ...] [out-dir]
// Output: <ZMPI_EXP_DIR or out-dir>/results.parquet (one row per prompt), metrics.json.
import { join } from "node:path";
import { init } from "zmpi";
import { columnParallel, decode, layerWeights, parseSpec, promptInput, residual, rowParallel, type PromptRow } from "./model.js";

const args = process.argv.slice(2);
const spec = parseSpec(args);
const outDir = process.env.ZMPI_EXP_DIR ?? (args.length % 2 === 1 ? args.at(-1)! : "inference-baseline");
const world = await init();
if (world.size !== 1) throw new Error(`the baseline is one process; got ${world.size} ranks`);
const layers = Array.from({ length: spec.layers }, (_, l) => layerWeights(spec, l));
const table = world.results(join(outDir, "results.parquet"), { rank: false });
const t0 = performance.now();
for (let p = 0; p < spec.prompts; p++) {
  let x = promptInput(spec, p);
  let out = x;
  const ids: number[] = [];
  for (let t = 0; t < spec.tokens; t++) {
    for (const layer of layers) {
      const h = columnParallel(layer, spec.hidden, x, 0, spec.ffn);
      x = residual(layer, x, rowParallel(layer, spec.ffn, h, 0, spec.ffn, spec.hidden));
    }
    out = x;
    const d = decode(out);
    ids.push(d.token);
    x = d.next;
  }
  table.append({ prompt_id: p, tokens: spec.tokens, token_ids: ids, output: [...out], latency_ms: performance.now() - t0 } satisfies PromptRow);
}
const w = await table.flush();
world.log.info(`baseline: ${w.totalRows} prompts x ${spec.tokens} tokens -> ${w.path}`);
await world.finalize();
