/**
 * Plots of a summary as SVG, from a plotting grammar: each plot is a Vega-Lite spec (data +
 * encodings), compiled to Vega and rendered headlessly by Vega's SVG renderer in Node, with no
 * browser and no canvas. Vega and Vega-Lite are imported on first use only, so programs that
 * never summarise do not load them (about 10 MB of modules).
 */
import { writeFileAtomic } from "../results/atomic.js";

/** One row of the data behind the plots. */
export interface PlotRow {
  strategy: string;
  latencyP50Ms: number | null;
  matchRate: number;
  throughput: number | null;
  throughputLabel: string;
}

/** A Vega-Lite spec (the subset this module writes; passed to vega-lite's compiler as is). */
export type VegaLiteSpec = Record<string, unknown>;

/** Latency (x) against correctness (y), one labelled point per strategy. */
export function latencyVsCorrectnessSpec(rows: readonly PlotRow[]): VegaLiteSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Latency vs correctness per strategy",
    width: 420,
    height: 260,
    data: { values: rows.filter((r) => r.latencyP50Ms !== null).map((r) => ({ strategy: r.strategy, latency: r.latencyP50Ms, match: r.matchRate })) },
    layer: [
      {
        mark: { type: "point", filled: true, size: 90 },
        encoding: {
          x: { field: "latency", type: "quantitative", title: "median latency per row (ms)", scale: { zero: true } },
          y: { field: "match", type: "quantitative", title: "rows matching the baseline", scale: { domain: [0, 1] }, axis: { format: "%" } },
          color: { field: "strategy", type: "nominal", title: "strategy" },
          shape: { field: "strategy", type: "nominal" },
        },
      },
      {
        mark: { type: "text", align: "left", dx: 7, dy: -7, fontSize: 10 },
        encoding: { x: { field: "latency", type: "quantitative" }, y: { field: "match", type: "quantitative" }, text: { field: "strategy", type: "nominal" } },
      },
    ],
  };
}

/** Throughput per strategy, one bar each. */
export function throughputSpec(rows: readonly PlotRow[]): VegaLiteSpec {
  const label = rows.find((r) => r.throughput !== null)?.throughputLabel ?? "rows/s";
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `Throughput per strategy (${label})`,
    width: 420,
    height: 260,
    data: { values: rows.filter((r) => r.throughput !== null).map((r) => ({ strategy: r.strategy, throughput: r.throughput })) },
    layer: [
      {
        mark: "bar",
        encoding: {
          x: { field: "strategy", type: "nominal", sort: null, axis: { labelAngle: -30 } },
          y: { field: "throughput", type: "quantitative", title: label },
          color: { field: "strategy", type: "nominal", legend: null },
        },
      },
      {
        mark: { type: "text", dy: -6, fontSize: 10 },
        encoding: {
          x: { field: "strategy", type: "nominal", sort: null },
          y: { field: "throughput", type: "quantitative" },
          text: { field: "throughput", type: "quantitative", format: ".3~g" },
        },
      },
    ],
  };
}

/** Renders a Vega-Lite spec to SVG text (headless: Vega's `renderer: "none"` + `toSVG()`). */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const [vl, vega] = await Promise.all([import("vega-lite"), import("vega")]);
  const compiled = vl.compile(spec as unknown as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Writes both plots into `dir`; returns their paths. */
export async function writePlots(dir: string, rows: readonly PlotRow[]): Promise<string[]> {
  const out: string[] = [];
  for (const [name, spec] of [
    ["latency_vs_correctness.svg", latencyVsCorrectnessSpec(rows)],
    ["throughput.svg", throughputSpec(rows)],
  ] as const) {
    const path = `${dir}/${name}`;
    writeFileAtomic(path, await renderSvg(spec));
    out.push(path);
  }
  return out;
}
