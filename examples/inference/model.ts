// The model of the inference example: a small residual MLP (a transformer block's feed-forward
// half, stacked), weights generated from a seed so every rank and the baseline build the same
// numbers without shipping them. Shared by serve.ts (parallel) and baseline.ts (one process).
import { createRng } from "zmpi";

/** Model and workload sizes (every rank and the baseline parse the same arguments). */
export interface ModelSpec {
  hidden: number;
  ffn: number;
  layers: number;
  prompts: number;
  tokens: number;
  microBatch: number;
  seed: number;
}

/** Reads `--hidden 128 --ffn 512 ...` (defaults: a model that runs in well under a second). */
export function parseSpec(argv: readonly string[]): ModelSpec {
  const get = (name: string, def: number) => {
    const i = argv.indexOf(`--${name}`);
    const v = i >= 0 ? Number(argv[i + 1]) : def;
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, got ${argv[i + 1]}`);
    return v;
  };
  return {
    hidden: get("hidden", 128),
    ffn: get("ffn", 512),
    layers: get("layers", 4),
    prompts: get("prompts", 24),
    tokens: get("tokens", 6),
    microBatch: get("micro-batch", 4),
    seed: get("seed", 1),
  };
}

/** One layer: y = x + W2 · gelu(W1 · x + b1) + b2, W1 [ffn x hidden], W2 [hidden x ffn], row-major. */
export interface Layer {
  w1: Float64Array;
  b1: Float64Array;
  w2: Float64Array;
  b2: Float64Array;
}

/** Layer `l`'s weights, from (seed, l) alone, so each pipeline stage builds only its own layers. */
export function layerWeights(spec: ModelSpec, l: number): Layer {
  const r = createRng(spec.seed, "layer", l);
  const u = (n: number, scale: number) => Float64Array.from({ length: n }, () => r.uniform(-scale, scale));
  return { w1: u(spec.ffn * spec.hidden, 1 / Math.sqrt(spec.hidden)), b1: u(spec.ffn, 0.1), w2: u(spec.hidden * spec.ffn, 1 / Math.sqrt(spec.ffn)), b2: u(spec.hidden, 0.1) };
}

/** The input of prompt `p`: its "embedding", from (seed, p). */
export function promptInput(spec: ModelSpec, p: number): Float64Array {
  const r = createRng(spec.seed, "prompt", p);
  return Float64Array.from({ length: spec.hidden }, () => r.uniform(-1, 1));
}

/** GELU (tanh form, as GPT-2). */
export function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

/**
 * Column-parallel half of a layer on rows [r0, r1) of W1: the slice of the hidden activation
 * gelu(W1 · x + b1) this TP rank owns (Megatron's ColumnParallelLinear: no communication).
 */
export function columnParallel(layer: Layer, hidden: number, x: Float64Array, r0: number, r1: number): Float64Array {
  const h = new Float64Array(r1 - r0);
  for (let i = r0; i < r1; i++) {
    let s = layer.b1[i]!;
    const row = i * hidden;
    for (let j = 0; j < hidden; j++) s += layer.w1[row + j]! * x[j]!;
    h[i - r0] = gelu(s);
  }
  return h;
}

/**
 * Row-parallel half on columns [c0, c1) of W2: this TP rank's partial W2[:, c0:c1] · h; the TP
 * group sums the partials (allreduce), Megatron's RowParallelLinear.
 */
export function rowParallel(layer: Layer, ffn: number, h: Float64Array, c0: number, c1: number, hidden: number): Float64Array {
  const y = new Float64Array(hidden);
  for (let i = 0; i < hidden; i++) {
    let s = 0;
    const row = i * ffn;
    for (let j = c0; j < c1; j++) s += layer.w2[row + j]! * h[j - c0]!;
    y[i] = s;
  }
  return y;
}

/** Residual and bias after the (summed) row-parallel output: x + y + b2. */
export function residual(layer: Layer, x: Float64Array, y: Float64Array): Float64Array {
  return Float64Array.from(x, (v, i) => v + y[i]! + layer.b2[i]!);
}

/** The next token from a final activation (argmax), and the next step's input (tanh keeps it bounded). */
export function decode(out: Float64Array): { token: number; next: Float64Array } {
  let token = 0;
  for (let i = 1; i < out.length; i++) if (out[i]! > out[token]!) token = i;
  return { token, next: Float64Array.from(out, Math.tanh) };
}

/** The row rank 0 writes for one prompt. */
export interface PromptRow {
  prompt_id: number;
  tokens: number;
  token_ids: number[];
  /** The last step's output activation: the value the correctness check compares to float tolerance. */
  output: number[];
  latency_ms: number;
}
