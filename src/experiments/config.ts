/**
 * A job's config: one validated description of a Slurm job that runs a zmpi program (nodes, tasks,
 * mesh shape and placement, limits, account, environment, container, program), from JSON or YAML.
 *
 * The schema (zod) checks each field on its own; {@link checkJob} then checks what only the whole
 * config can say (the mesh fills the tasks, each dimension sits where its placement says). Every
 * problem names the field and what would fit, all problems at once, in one `ConfigError`.
 */
import { z } from "zod";
import { UsageError } from "../errors.js";
import { factorizations } from "../groups/mesh.js";
import { blockNodes, effectivePlacement, placementProblems, resolveShape, type Placement } from "../groups/mesh-env.js";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const SLURM_WORD = /^[A-Za-z0-9_.:+,=/@-]+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Slurm's --time forms: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S. */
const SLURM_TIME = /^(\d+|\d+:\d{2}|\d+:\d{2}:\d{2}|\d+-\d+|\d+-\d+:\d{2}|\d+-\d+:\d{2}:\d{2})$/;
const ONE_LINE = /^[^\n\r\0]*$/;

const show = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : v === undefined ? "nothing" : (JSON.stringify(v) ?? String(v)));

/** A positive integer field with one message for every way it can be wrong. */
function positiveInt() {
  const msg = (i: { input?: unknown }) => `expected a positive integer, got ${show(i.input)}`;
  return z.int({ error: msg }).min(1, { error: msg });
}

/** A single-line string matching `re`; `hint` says what fits. */
function word(re: RegExp, hint: string) {
  return z.string({ error: (i) => `expected ${hint}, got ${show(i.input)}` }).regex(re, { error: (i) => `${show(i.input)} is not ${hint}` });
}

const stringish = z.union([z.string(), z.number(), z.boolean()], { error: (i) => `expected a string (or number), got ${show(i.input)}` }).transform(String);

const placementValue = z.enum(["inside-nodes", "across-nodes", "any"], { error: (i) => `expected "inside-nodes", "across-nodes" or "any", got ${show(i.input)}` });

const meshSize = z
  .int({ error: (i) => `expected a positive integer or -1 (inferred), got ${show(i.input)}` })
  .refine((n) => n >= 1 || n === -1, { error: (i) => `expected a positive integer or -1 (inferred), got ${show(i.input)}` });

/** What the job promises to write, checked by `zmpi collect`. */
const resultsSchema = z.strictObject({
  /** The results table rank 0 writes, relative to the job's directory. */
  table: word(/^[^/\\\n\r\0][^\n\r\0]*\.(jsonl|csv|parquet)$/, 'a relative file name ending in .jsonl, .csv or .parquet (e.g. "results.parquet")').default("results.parquet"),
  /** Rows the table must hold. */
  rows: z
    .int({ error: (i) => `expected a row count (integer >= 0), got ${show(i.input)}` })
    .min(0, { error: (i) => `expected a row count (integer >= 0), got ${show(i.input)}` })
    .optional(),
  /** False: `zmpi collect` skips this job (a stage whose output is files for a later job, not rows). */
  collect: z.boolean({ error: (i) => `expected true or false, got ${show(i.input)}` }).default(true),
  /** Columns the table must have. */
  columns: z
    .array(z.string({ error: (i) => `expected a column name, got ${show(i.input)}` }), { error: (i) => `expected a list of column names, got ${show(i.input)}` })
    .optional(),
});

/** The fields of a job config (all optional here: defaults and strategies are merged first). */
const jobFields = {
  /** Job (strategy) name: also its directory and its Slurm job name. */
  name: word(NAME, 'a name of letters, digits, ".", "_" or "-" (at most 64, e.g. "tp-across")'),
  /** One-line or several-line description, rendered as the script's header comment. */
  description: z.union([z.string(), z.array(z.string())], { error: (i) => `expected a string or a list of lines, got ${show(i.input)}` }).optional(),
  nodes: positiveInt().default(1),
  tasksPerNode: positiveInt(),
  cpusPerTask: positiveInt().default(1),
  /** Mesh shape, slowest → fastest: `{ pp, dp, tp }`, `{ state, walker }`, one size may be -1. */
  mesh: z
    .record(word(/^[A-Za-z_][A-Za-z0-9_]*$/, "a dimension name (letters, digits, _)"), meshSize, {
      error: (i) =>
        i.code === "invalid_key"
          ? `${show(i.input)} is not a dimension name (letters, digits, _)`
          : `expected an object of dimension sizes such as { "pp": 2, "tp": 2 }, got ${show(i.input)}`,
    })
    .optional(),
  /** Where each mesh dimension's groups sit; the last dimension defaults to "inside-nodes". */
  placement: z.record(z.string(), placementValue, { error: (i) => `expected an object such as { "tp": "inside-nodes", "pp": "across-nodes" }, got ${show(i.input)}` }).optional(),
  /** Wall-clock limit, Slurm's forms ("HH:MM:SS", "MM", "D-HH:MM:SS"). */
  time: word(SLURM_TIME, 'a Slurm time limit such as "00:30:00", "90" (minutes) or "1-00:00:00"').default("00:30:00"),
  partition: word(SLURM_WORD, "a partition name (no spaces)").optional(),
  account: word(SLURM_WORD, "an account name (no spaces)").optional(),
  qos: word(SLURM_WORD, "a QOS name (no spaces)").optional(),
  gres: word(SLURM_WORD, 'a GRES list such as "gpu:2" or "gpu:a100:1"').optional(),
  /** Extra `#SBATCH` options, one per line, e.g. `"--exclusive"`. */
  sbatch: z
    .array(word(/^--?[A-Za-z][^\n\r\0]*$/, 'an sbatch option starting with "-" (e.g. "--exclusive")'), { error: (i) => `expected a list of sbatch options, got ${show(i.input)}` })
    .default([]),
  /** Environment of every rank. */
  env: z
    .record(word(ENV_NAME, "an environment variable name"), stringish, {
      error: (i) =>
        i.code === "invalid_key"
          ? `${show(i.input)} is not an environment variable name (letters, digits, _; not starting with a digit)`
          : `expected an object of NAME: value, got ${show(i.input)}`,
    })
    .default({}),
  /** `module load` these first (environment modules / Lmod). */
  modules: z.array(word(/^[^\s'"`$;&|<>]+$/, 'a module name such as "gcc/12.2"'), { error: (i) => `expected a list of module names, got ${show(i.input)}` }).default([]),
  /** A command that wraps `node` on every rank, e.g. `"apptainer exec --bind /work app.sif"`. */
  container: word(/^\S[^\n\r\0]*$/, 'a command prefix such as "apptainer exec app.sif"').optional(),
  /** The program every rank runs (.js, .mjs or .ts), relative to `workdir`. */
  program: word(/^\S[^\n\r\0]*$/, 'a script path such as "examples/inference/serve.ts"'),
  args: z.array(stringish, { error: (i) => `expected a list of arguments, got ${show(i.input)}` }).default([]),
  /** Options for `node` itself, e.g. `["--max-old-space-size=8192"]`. */
  nodeOptions: z.array(word(/^--?[A-Za-z][^\n\r\0]*$/, 'a node option starting with "-"'), { error: (i) => `expected a list of node options, got ${show(i.input)}` }).default([]),
  /** Directory the job runs in (default: where you submit from). */
  workdir: word(ONE_LINE, "a directory path").optional(),
  /** Output root: each run is `<output>/run_<timestamp>/<name>/`. */
  output: word(/^[^\n\r\0]+$/, "a directory path").default("runs"),
  /** `ZMPI_TIMEOUT` in seconds: rendezvous and every wait. */
  timeout: z
    .number({ error: (i) => `expected a number of seconds, got ${show(i.input)}` })
    .positive({ error: (i) => `expected a positive number of seconds, got ${show(i.input)}` })
    .default(600),
  /** Slurm task distribution; placement checks assume block. Default `block` on several nodes. */
  distribution: z
    .enum(["block", "block:block", "block:cyclic", "cyclic", "plane"], {
      error: (i) => `expected "block", "block:block", "block:cyclic", "cyclic" or "plane", got ${show(i.input)}`,
    })
    .optional(),
  /** Ask glibc for transparent huge pages (default true). */
  hugePages: z.boolean({ error: (i) => `expected true or false, got ${show(i.input)}` }).default(true),
  /** A reusable template: the script's first argument replaces `program`, the rest replace `args`, and mesh sizes come from PP=, TP=, ... when set. */
  template: z.boolean({ error: (i) => `expected true or false, got ${show(i.input)}` }).default(false),
  /** What the job's rank 0 writes, checked by `zmpi collect`. */
  results: resultsSchema.optional(),
  /** Jobs of the same run this one waits for (`sbatch --dependency=afterok`): it starts only if they all succeed. */
  after: z.array(word(NAME, "the name of another job of the run"), { error: (i) => `expected a list of job names, got ${show(i.input)}` }).default([]),
};

/** The job config schema (strict: an unknown field is an error that suggests the nearest name). */
export const jobSchema = z.strictObject(jobFields);

/** A job config as written (before defaults). */
export type JobConfigInput = z.input<typeof jobSchema>;

/** A validated job config with defaults filled, mesh sizes resolved and every placement explicit. */
export type JobConfig = Omit<z.output<typeof jobSchema>, "mesh" | "placement"> & {
  mesh?: Record<string, number>;
  placement?: Record<string, Placement>;
};

/** One problem in a config: the field (dotted path) and what is wrong with it. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** A config that does not validate; `issues` lists every problem. */
export class ConfigError extends UsageError {
  readonly issues: ConfigIssue[];
  constructor(source: string, issues: ConfigIssue[]) {
    super(`${source}: ${issues.length === 1 ? "1 problem" : `${issues.length} problems`}\n${issues.map((i) => `  ${i.path || "(top)"}: ${i.message}`).join("\n")}`, {
      op: "config",
    });
    this.issues = issues;
  }
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
  }
  return d[a.length]![b.length]!;
}

/** The known name closest to `key`, if close enough to be a typo. */
export function nearest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dd = distance(key, k);
    if (dd < bestD) [best, bestD] = [k, dd];
  }
  return bestD <= (key.length <= 3 ? 1 : Math.max(2, Math.floor(key.length / 3))) ? best : undefined;
}

/** Turns zod's issues into field-named ones (`prefix` goes before every path). */
export function zodIssues(err: z.ZodError, prefix: string, knownAt: (path: readonly PropertyKey[]) => readonly string[]): ConfigIssue[] {
  const join = (p: readonly PropertyKey[]) => [prefix, ...p.map((x) => (typeof x === "number" ? `[${x}]` : String(x)))].filter(Boolean).join(".").replace(/\.\[/g, "[");
  const out: ConfigIssue[] = [];
  for (const i of err.issues) {
    if (i.code === "unrecognized_keys") {
      for (const k of i.keys) {
        const near = nearest(k, knownAt(i.path));
        out.push({ path: join([...i.path, k]), message: `unknown field${near ? `; did you mean "${near}"?` : `; known fields: ${knownAt(i.path).join(", ")}`}` });
      }
    } else
      out.push({ path: join(i.path), message: i.message === "Invalid input: expected int, received undefined" || /received undefined$/.test(i.message) ? "required" : i.message });
  }
  return out;
}

/** Field names at a path of the job schema (for "did you mean"). */
export function jobKeysAt(path: readonly PropertyKey[]): readonly string[] {
  if (path.length === 1 && path[0] === "results") return Object.keys(resultsSchema.shape);
  return Object.keys(jobFields);
}

/** What would fit a mesh that does not fill the job: other shapes, or another tasksPerNode. */
function meshFits(mesh: Record<string, number>, nodes: number, tasks: number): string {
  const dims = Object.keys(mesh);
  const wanted = dims.map((d) => mesh[d]!);
  const shapes = factorizations(tasks, dims.length, wanted, 3).map((f) => `{ ${f.map((x, i) => `${dims[i]}: ${x}`).join(", ")} }`);
  const product = wanted.every((x) => x > 0) ? wanted.reduce((a, b) => a * b, 1) : null;
  const perNode = product !== null && product % nodes === 0 ? `, or tasksPerNode ${product / nodes} for this mesh` : "";
  return `shapes that fit: ${shapes.join(", ")}${perNode}`;
}

/**
 * Checks what only the whole config can say: the mesh fills nodes x tasksPerNode, each dimension
 * sits where its placement says (on Slurm's block layout), placement names real dimensions, and
 * placement checks are not asked of a non-block distribution. Returns the completed config.
 */
export function checkJob(cfg: z.output<typeof jobSchema>, prefix = ""): { job: JobConfig; issues: ConfigIssue[] } {
  const at = (p: string) => (prefix ? `${prefix}.${p}` : p);
  const issues: ConfigIssue[] = [];
  const job: JobConfig = { ...cfg, mesh: undefined, placement: undefined };
  const tasks = cfg.nodes * cfg.tasksPerNode;
  for (const [k, why] of [
    ["ZMPI_SECRET", "the script makes a fresh secret per job; one in a config file would be shared by every job and readable by anyone who can read the file"],
    ["ZMPI_MESH", 'the script sets it from the "mesh" field'],
    ["ZMPI_MESH_PLACEMENT", 'the script sets it from the "placement" field'],
  ] as const) {
    if (k in cfg.env) issues.push({ path: at(`env.${k}`), message: `remove it: ${why}` });
  }
  if (cfg.placement && !cfg.mesh) issues.push({ path: at("placement"), message: 'placement without a mesh: add a mesh such as { "tp": 2 }' });
  if (!cfg.mesh) return { job, issues };
  const dims = Object.keys(cfg.mesh);
  for (const d of Object.keys(cfg.placement ?? {})) {
    if (!dims.includes(d)) issues.push({ path: at(`placement.${d}`), message: `"${d}" is not a mesh dimension (dimensions: ${dims.join(", ")})` });
  }
  let sizes: number[];
  try {
    sizes = resolveShape(cfg.mesh, tasks, at("mesh"));
  } catch (e) {
    issues.push({
      path: at("mesh"),
      message: `${(e as UsageError).detail.replace(/^[^:]*: /, "")} (nodes ${cfg.nodes} x tasksPerNode ${cfg.tasksPerNode}); ${meshFits(cfg.mesh, cfg.nodes, tasks)}`,
    });
    return { job, issues };
  }
  const placement = effectivePlacement(dims, (cfg.placement ?? {}) as Record<string, Placement>);
  const dist = cfg.distribution ?? "block";
  const checked = Object.values(placement).some((p) => p !== "any");
  if (cfg.nodes > 1 && checked && !dist.startsWith("block")) {
    issues.push({
      path: at("distribution"),
      message: `"${dist}" puts consecutive ranks on different nodes, but the mesh placement assumes block distribution: use "block" or set every placement to "any"`,
    });
  } else {
    for (const p of placementProblems(dims, sizes, placement, blockNodes(cfg.nodes, cfg.tasksPerNode), at("placement"))) {
      const cut = p.indexOf(": ");
      issues.push({ path: p.slice(0, cut), message: p.slice(cut + 2) });
    }
  }
  job.mesh = Object.fromEntries(dims.map((d, i) => [d, sizes[i]!]));
  job.placement = placement;
  return { job, issues };
}

/**
 * Validates one job config (plain data from JSON or YAML). `source` names it in the error.
 *
 * ```ts
 * const job = parseJob({ name: "tp-across", nodes: 2, tasksPerNode: 2, mesh: { tp: 4 },
 *   placement: { tp: "across-nodes" }, program: "serve.ts" }, "experiment.json");
 * ```
 */
export function parseJob(data: unknown, source = "config", prefix = ""): JobConfig {
  const r = jobSchema.safeParse(data);
  if (!r.success) throw new ConfigError(source, zodIssues(r.error, prefix, jobKeysAt));
  const { job, issues } = checkJob(r.data, prefix);
  if (issues.length > 0) throw new ConfigError(source, issues);
  return job;
}
