// The inference example's parallel server: the model of model.ts served under the mesh the job's
// environment names (ZMPI_MESH, set by `zmpi sbatch` from experiment.json):
//   mesh.tp  Megatron-style tensor parallelism: each TP rank owns a slice of every layer's FFN
//            (column-parallel W1, row-parallel W2) and the group sums the partial outputs;
//   mesh.pp  pipeline parallelism: each stage owns consecutive layers; micro-batches of prompts
//            flow stage to stage (the last stage hands each decoded token back to the first);
//   mesh.dp  data parallelism: prompts are split over the DP groups.
// Rank 0 writes one row per prompt (token ids, output activation, latency) to the job's table.
//   ZMPI_MESH=pp:2,dp:1,tp:2 npx zmpi launch -n 4 --nodes 2 examples/inference/serve.ts --prompts 8 out
import { join } from "node:path";
import { init, Op } from "zmpi";
import { columnParallel, decode, layerWeights, parseSpec, promptInput, residual, rowParallel, type PromptRow } from "./model.js";

const args = process.argv.slice(2);
const spec = parseSpec(args);
const outDir = process.env.ZMPI_EXP_DIR ?? (args.length % 2 === 1 ? args.at(-1)! : "inference-out");
const world = await init();
const mesh = await world.mesh<"pp" | "dp" | "tp">("env", { fallback: { pp: 1, dp: 1, tp: world.size } });
const [PP, DP, TP] = (["pp", "dp", "tp"] as const).map((d) => mesh.shape[mesh.dims.indexOf(d)] ?? 1) as [number, number, number];
const { pp: stage, dp: group, tp: slice } = mesh.coords as { pp: number; dp: number; tp: number };
if (spec.layers % PP !== 0) throw new Error(`--layers ${spec.layers} is not divisible by pp=${PP}`);
if (spec.ffn % TP !== 0) throw new Error(`--ffn ${spec.ffn} is not divisible by tp=${TP}`);

// This rank's part of the model: its stage's layers, its TP slice of each.
const perStage = spec.layers / PP;
const layers = Array.from({ length: perStage }, (_, i) => layerWeights(spec, stage * perStage + i));
const r0 = (slice * spec.ffn) / TP;
const r1 = ((slice + 1) * spec.ffn) / TP;

// This DP group's prompts, in micro-batches.
const mine = Array.from({ length: spec.prompts }, (_, p) => p).filter((p) => p % DP === group);
const batches: number[][] = [];
for (let i = 0; i < mine.length; i += spec.microBatch) batches.push(mine.slice(i, i + spec.microBatch));

const table = world.results(join(outDir, "results.parquet"), { rank: false }); // every rank; rank 0 writes
const H = spec.hidden;
const FORWARD = 1;
const BACK = 2;

/** This stage's layers over one micro-batch (rows of H), the TP group summing each layer's partials. */
async function runStage(x: Float64Array[]): Promise<Float64Array[]> {
  for (const layer of layers) {
    const partial = new Float64Array(x.length * H);
    x.forEach((v, b) => partial.set(rowParallel(layer, spec.ffn, columnParallel(layer, H, v, r0, r1), r0, r1, H), b * H));
    const sum = TP > 1 ? await mesh.tp.allreduce(partial, Op.SUM) : partial;
    x = x.map((v, b) => residual(layer, v, sum.subarray(b * H, (b + 1) * H)));
  }
  return x;
}

const pack = (rows: Float64Array[]) => {
  const out = new Float64Array(rows.length * H);
  rows.forEach((r, i) => out.set(r, i * H));
  return out;
};
const unpack = (a: Float64Array) => Array.from({ length: a.length / H }, (_, i) => a.slice(i * H, (i + 1) * H));

await world.barrier();
const t0 = performance.now();
const ids = new Map<number, number[]>(mine.map((p) => [p, []]));
let inputs = batches.map((b) => b.map((p) => promptInput(spec, p)));
for (let t = 0; t < spec.tokens; t++) {
  for (const [k, batch] of batches.entries()) {
    // Stage 0 starts from the prompts (or the tokens the last stage sent back); the others receive.
    let x: Float64Array[];
    if (stage === 0) x = t === 0 || PP === 1 ? inputs[k]! : unpack(await mesh.pp.recv<Float64Array>({ source: PP - 1, tag: BACK }));
    else x = unpack(await mesh.pp.recv<Float64Array>({ source: stage - 1, tag: FORWARD }));
    x = await runStage(x);
    if (stage < PP - 1) {
      await mesh.pp.send(pack(x), stage + 1, { tag: FORWARD });
      continue;
    }
    // Last stage: decode one token per prompt; the next step starts from it.
    const next = x.map((out, b) => {
      const d = decode(out);
      ids.get(batch[b]!)!.push(d.token);
      if (t === spec.tokens - 1 && slice === 0) {
        table.append({ prompt_id: batch[b]!, tokens: spec.tokens, token_ids: ids.get(batch[b]!)!, output: [...out], latency_ms: performance.now() - t0 } satisfies PromptRow);
      }
      return d.next;
    });
    if (t < spec.tokens - 1) {
      if (PP > 1) await mesh.pp.send(pack(next), 0, { tag: BACK });
      else inputs[k] = next;
    }
  }
}
const w = await table.flush(); // collective: the last stage's rows go to rank 0, which writes
world.log.info(
  `serve: mesh pp=${PP} dp=${DP} tp=${TP} (${mesh.dims.map((d) => `${d} ${mesh.placementOf(d)}`).join(", ")}); ${w.totalRows} prompts x ${spec.tokens} tokens in ${(performance.now() - t0).toFixed(0)} ms -> ${w.path}`,
);
inputs = [];
await world.finalize();
