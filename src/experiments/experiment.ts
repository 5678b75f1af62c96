/**
 * Config files: one job, or an experiment (shared defaults, several strategies, a single-process
 * baseline, and how to summarise them), read from JSON or YAML and validated field by field.
 *
 * A strategy is the defaults with the strategy's own fields on top (`env` and `results` merged key
 * by key, everything else replaced), then validated as a job; its errors name the strategy
 * (`strategies[1].placement.tp`). The baseline is a job too, of one task by default.
 */
import { readFileSync } from "node:fs";
import { extname, resolve } from "node:path";
import { z } from "zod";
import { UsageError } from "../errors.js";
import { ConfigError, checkJob, jobKeysAt, jobSchema, nearest, zodIssues, type ConfigIssue, type JobConfig } from "./config.js";

const show = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v)));

/** How `zmpi summary` compares each job's table with the baseline's. */
export const summarySchema = z.strictObject({
  /** Column(s) that identify a row in both tables (e.g. `prompt_id`). */
  key: z.union([z.string(), z.array(z.string()).min(1)], { error: (i) => `expected a column name or a list of them, got ${show(i.input)}` }),
  /** Columns whose values must match the baseline's. */
  compare: z.array(z.string(), { error: (i) => `expected a list of column names, got ${show(i.input)}` }).min(1, { error: "name at least one column to compare" }),
  /** Numbers (and arrays of numbers) match when |a - b| <= abs + rel * |b|. Default exact. */
  tolerance: z
    .strictObject({
      abs: z
        .number({ error: (i) => `expected a number >= 0, got ${show(i.input)}` })
        .min(0, { error: (i) => `expected a number >= 0, got ${show(i.input)}` })
        .default(0),
      rel: z
        .number({ error: (i) => `expected a number >= 0, got ${show(i.input)}` })
        .min(0, { error: (i) => `expected a number >= 0, got ${show(i.input)}` })
        .default(0),
    })
    .default({ abs: 0, rel: 0 }),
  /** Column of per-row latency in ms (for percentiles). */
  latency: z.string({ error: (i) => `expected a column name, got ${show(i.input)}` }).optional(),
  /** Column of tokens (or items) per row, for tokens per second. */
  tokens: z.string({ error: (i) => `expected a column name, got ${show(i.input)}` }).optional(),
  /**
   * The time throughput is over: `wall` (default), the slowest rank's wall time from metrics.json
   * (start-up included), or `max-latency`, the largest value of the latency column, for tables
   * whose latency counts from a common start (all requests arriving at once): the serving time.
   */
  throughputTime: z.enum(["wall", "max-latency"], { error: (i) => `expected "wall" or "max-latency", got ${show(i.input)}` }).default("wall"),
  /** `module#export` of a comparison function for values that are neither numbers nor strings. */
  compareModule: z
    .string({ error: (i) => `expected "path/to/module.js#exportName", got ${show(i.input)}` })
    .regex(/^[^#]+(#[A-Za-z_$][\w$]*)?$/, { error: (i) => `expected "path/to/module.js#exportName", got ${show(i.input)}` })
    .optional(),
});

/** Summary options as written / validated. */
export type SummaryConfigInput = z.input<typeof summarySchema>;
export type SummaryConfig = z.output<typeof summarySchema>;

const partialJob = z.record(z.string(), z.unknown(), { error: (i) => `expected an object of job fields, got ${show(i.input)}` });

const experimentSchema = z.strictObject({
  name: z
    .string({ error: (i) => `expected a name, got ${show(i.input)}` })
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: (i) => `${show(i.input)} is not a name of letters, digits, ".", "_" or "-"` }),
  description: z.union([z.string(), z.array(z.string())]).optional(),
  defaults: partialJob.default({}),
  strategies: z.array(partialJob, { error: (i) => `expected a list of strategies, got ${show(i.input)}` }).min(1, { error: "an experiment needs at least one strategy" }),
  baseline: partialJob.optional(),
  summary: summarySchema.optional(),
});

/** A validated experiment: every strategy (and the baseline) a complete job. */
export interface Experiment {
  name: string;
  description?: string | string[];
  /** Absolute path of the file it came from, if any. */
  source?: string;
  strategies: JobConfig[];
  baseline?: JobConfig;
  summary?: SummaryConfig;
}

/** Reads a JSON or YAML file into plain data; errors name the file and the line when they can. */
export async function readConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read config ${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`, { op: "config" });
  }
  const ext = extname(path).toLowerCase();
  if (ext === ".yaml" || ext === ".yml") {
    const { parse } = await import("yaml");
    try {
      return parse(text) as unknown;
    } catch (e) {
      throw new UsageError(`${path}: not valid YAML: ${(e as Error).message}`, { op: "config" });
    }
  }
  if (ext !== ".json") throw new UsageError(`${path}: config files are .json, .yaml or .yml, not "${ext || "(no extension)"}"`, { op: "config" });
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UsageError(`${path}: not valid JSON: ${(e as Error).message}`, { op: "config" });
  }
}

/** Defaults with a strategy on top: `env` and `results` merged key by key, the rest replaced. */
function mergeJob(defaults: Record<string, unknown>, own: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...defaults, ...own };
  for (const k of ["env", "results"]) {
    const a = defaults[k];
    const b = own[k];
    if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) out[k] = { ...a, ...b };
  }
  return out;
}

function validateMerged(data: Record<string, unknown>, prefix: string, issues: ConfigIssue[]): JobConfig | undefined {
  const r = jobSchema.safeParse(data);
  if (!r.success) {
    issues.push(...zodIssues(r.error, prefix, jobKeysAt));
    return undefined;
  }
  const { job, issues: more } = checkJob(r.data, prefix);
  issues.push(...more);
  return more.length ? undefined : job;
}

/** Validates experiment data (see the module header). `source` names it in errors. */
export function parseExperiment(data: unknown, source = "experiment"): Experiment {
  const r = experimentSchema.safeParse(data);
  const known = (p: readonly PropertyKey[]) => (p.length === 0 ? Object.keys(experimentSchema.shape) : p[0] === "summary" ? Object.keys(summarySchema.shape) : jobKeysAt(p));
  if (!r.success) throw new ConfigError(source, zodIssues(r.error, "", known));
  const e = r.data;
  const issues: ConfigIssue[] = [];
  // Unknown fields in the defaults are reported there, not once per strategy.
  for (const k of Object.keys(e.defaults)) {
    if (!(k in jobSchema.shape))
      issues.push({
        path: `defaults.${k}`,
        message: `unknown field${nearest(k, Object.keys(jobSchema.shape)) ? `; did you mean "${nearest(k, Object.keys(jobSchema.shape))}"?` : ""}`,
      });
    if (k === "name") issues.push({ path: "defaults.name", message: "each strategy has its own name; remove it from the defaults" });
  }
  if (issues.length) throw new ConfigError(source, issues);
  const strategies: JobConfig[] = [];
  const names = new Map<string, number>();
  e.strategies.forEach((s, i) => {
    const prefix = `strategies[${i}]`;
    if (typeof s.name === "string") {
      if (names.has(s.name)) issues.push({ path: `${prefix}.name`, message: `"${s.name}" is already the name of strategies[${names.get(s.name)}]` });
      if (s.name === "baseline") issues.push({ path: `${prefix}.name`, message: `"baseline" is reserved for the experiment's baseline` });
      names.set(s.name, i);
    }
    const job = validateMerged(mergeJob(e.defaults, s), prefix, issues);
    if (!job) return;
    job.after.forEach((a, k) => {
      if (a === job.name) issues.push({ path: `${prefix}.after[${k}]`, message: `a job cannot wait for itself` });
      else if (a !== "baseline" && !strategies.some((x) => x.name === a))
        issues.push({
          path: `${prefix}.after[${k}]`,
          message: `"${a}" is not a strategy listed before this one (jobs wait only for earlier jobs${e.baseline ? " or the baseline" : ""})`,
        });
      else if (a === "baseline" && !e.baseline) issues.push({ path: `${prefix}.after[${k}]`, message: `the experiment has no baseline` });
    });
    if (job.output !== strategies[0]?.output && strategies.length > 0)
      issues.push({
        path: `${prefix}.output`,
        message: `every strategy of a run writes under one output root: "${strategies[0]!.output}" (strategies[0]), not "${job.output}"; set it once in "defaults"`,
      });
    strategies.push(job);
  });
  let baseline: JobConfig | undefined;
  if (e.baseline) {
    const { mesh: _m, placement: _p, nodes: _n, tasksPerNode: _t, ...shared } = e.defaults;
    baseline = validateMerged(mergeJob({ ...shared, nodes: 1, tasksPerNode: 1 }, { name: "baseline", ...e.baseline }), "baseline", issues);
  }
  if (issues.length) throw new ConfigError(source, issues);
  return { name: e.name, description: e.description, strategies, baseline, summary: e.summary };
}

/** True if the data looks like an experiment (has `strategies`) rather than one job. */
function isExperiment(data: unknown): boolean {
  return data !== null && typeof data === "object" && "strategies" in data;
}

/**
 * Loads a config file as an experiment: a file with `strategies` is one; a single job's file
 * becomes an experiment of that one strategy (named by its `name`).
 *
 * ```ts
 * const exp = await loadExperiment("examples/inference/experiment.json");
 * console.log(exp.strategies.map((s) => s.name));
 * ```
 */
export async function loadExperiment(path: string): Promise<Experiment> {
  const abs = resolve(path);
  const data = await readConfigFile(abs);
  if (isExperiment(data)) return { ...parseExperiment(data, path), source: abs };
  const issues: ConfigIssue[] = [];
  const job = validateMerged((data ?? {}) as Record<string, unknown>, "", issues);
  if (!job || data === null || typeof data !== "object" || Array.isArray(data))
    throw new ConfigError(path, issues.length ? issues : [{ path: "", message: `expected an object of job fields, got ${show(data)}` }]);
  return { name: job.name, description: job.description, strategies: [job], source: abs };
}
