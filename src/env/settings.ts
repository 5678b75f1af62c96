/**
 * Every `ZMPI_*` setting, declared once: its name, the kind of value it takes, its default, who
 * sets it and what it does (the model is MPICH's CVAR blocks and zeromq.js's option tables: one
 * declaration from which the reader, the checks and the documentation all come).
 *
 * `readSettings(env)` reads them once, in `init()` (from `init({ env })` or `process.env`), and a
 * malformed value is a `UsageError` naming the variable, quoting the value and saying what would
 * fit, before anything is bound or sent. The README's table is generated from {@link SETTINGS}
 * (`npm run docs:settings`), and a test fails when it is stale or when a `ZMPI_*` name in the
 * sources is missing here.
 */
import { UsageError } from "../errors.js";

/** Who sets a variable: the user, `zmpi launch` for each rank, or a script `zmpi sbatch` writes. */
export type SettingSource = "user" | "zmpi launch" | "zmpi sbatch" | "zmpi bench";

/** One setting: its variable, the value it takes, its default and what it does. */
export interface SettingSpec<T> {
  /** The environment variable (`ZMPI_*`; a name ending in `_` is a family: `ZMPI_ALG_<NAME>`). */
  readonly name: string;
  /** The values that fit, in words (for errors and the README). */
  readonly accepts: string;
  /** The default, in words ("none" when unset means off or absent). */
  readonly defaultText: string;
  /** What it does (one line for the README). */
  readonly description: string;
  /** Who sets it. */
  readonly source: SettingSource;
  /** The value when unset or empty. */
  readonly fallback: T;
  /** The value of non-empty text; throws a message fragment when it does not fit. */
  parse(text: string): T;
}

const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
const KERNELS = ["auto", "js", "wasm", "wasm-simd"] as const;

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off"]);

function spec<T>(s: SettingSpec<T>): SettingSpec<T> {
  return s;
}

function flag(name: string, fallback: boolean, source: SettingSource, description: string): SettingSpec<boolean> {
  return spec({
    name,
    accepts: "1/0 (also true/false, yes/no, on/off)",
    defaultText: fallback ? "1" : "0",
    description,
    source,
    fallback,
    parse(text) {
      const t = text.toLowerCase();
      if (TRUE.has(t)) return true;
      if (FALSE.has(t)) return false;
      throw new Error("is not 1 or 0");
    },
  });
}

function text(name: string, accepts: string, source: SettingSource, description: string, defaultText = "none"): SettingSpec<string | undefined> {
  return spec<string | undefined>({ name, accepts, defaultText, description, source, fallback: undefined, parse: (t) => t });
}

function oneOf<const V extends readonly string[]>(name: string, values: V, fallback: V[number], description: string): SettingSpec<V[number]> {
  return spec({
    name,
    accepts: values.join(", "),
    defaultText: fallback,
    description,
    source: "user",
    fallback,
    parse(t) {
      const v = t.trim().toLowerCase();
      if ((values as readonly string[]).includes(v)) return v as V[number];
      throw new Error(`is not one of ${values.join(", ")}`);
    },
  });
}

/** An integer setting from `min` to `max`; `unit` is shown after the range, `defaultText` says what unset means. */
function integer(
  name: string,
  min: number,
  max: number,
  source: SettingSource,
  description: string,
  o: { unit?: string; defaultText?: string } = {},
): SettingSpec<number | undefined> {
  return spec<number | undefined>({
    name,
    accepts: `an integer from ${min} to ${max}${o.unit ? ` (${o.unit})` : ""}`,
    defaultText: o.defaultText ?? "none",
    description,
    source,
    fallback: undefined,
    parse(t) {
      const n = /^\s*\d+\s*$/.test(t) ? Number(t) : Number.NaN;
      if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`is not an integer from ${min} to ${max}`);
      return n;
    },
  });
}

/**
 * The settings a rank reads, by key. Identity and launcher variables (`ZMPI_RANK`, `ZMPI_COORD_*`,
 * …) are checked strictly by the launcher detection (env/detect.ts) and listed in
 * {@link OTHER_SETTINGS}; the experiment variables are for the user's program.
 */
export const SETTINGS = {
  timeoutSec: spec<number | undefined>({
    name: "ZMPI_TIMEOUT",
    accepts: "a positive number of seconds",
    defaultText: "1800 s for every wait, 120 s for rendezvous",
    description: "deadline of every wait (rendezvous included), seconds; `init({ timeoutMs })` wins",
    source: "user",
    fallback: undefined,
    parse(t) {
      const s = Number(t);
      if (t.trim() === "" || !Number.isFinite(s) || s <= 0) throw new Error("is not a positive number of seconds");
      return s;
    },
  }),
  log: oneOf("ZMPI_LOG", LOG_LEVELS, "info", "the level of `world.log`"),
  logDir: text("ZMPI_LOG_DIR", "a directory", "user", "also write each rank's log lines to `<dir>/rank-<r>.log`"),
  seed: text("ZMPI_SEED", "a decimal integer or any string (at most 256 characters)", "user", "seed of `world.rng()`; `init({ seed })` wins", "0"),
  secret: text("ZMPI_SECRET", "at least 16 characters", "user", "job secret, never sent: connections prove keys derived from it (see Security)", "the per-user file"),
  secretFile: text("ZMPI_SECRET_FILE", "a file path", "user", "where the per-user secret lives when `ZMPI_SECRET` is unset", "`~/.zmpi/secret`"),
  kernels: oneOf("ZMPI_KERNELS", KERNELS, "auto", "compute kernels: WASM SIMD (`wasm`, or `auto` when it loads) or plain JS (`js`)"),
  algorithm: text(
    "ZMPI_ALGORITHM",
    "an algorithm name, or `collective=name,…`",
    "user",
    "force collective algorithms (`ring`, or `allreduce=ring,bcast=binomial`); where one cannot apply (ring on plain values) the call chooses by size, where a call's own `{ algorithm }` would be a `UsageError`",
    "chosen by size",
  ),
  cma: flag("ZMPI_CMA", true, "user", "single-copy transfers between ranks on one machine (0: large arrays go over the socket)"),
  stream: flag("ZMPI_STREAM", true, "user", "ranks on one machine talk over their own Unix socket per pair (0: ZeroMQ ipc with CURVE)"),
  tcpLink: flag(
    "ZMPI_TCP_LINK",
    true,
    "user",
    "ranks on different nodes send data over one authenticated, unencrypted TCP connection per pair (0: ZeroMQ with CURVE, encrypted; see Security)",
  ),
  shm: flag("ZMPI_SHM", true, "user", "small messages between ranks on one machine go through shared-memory rings, polled for a moment by a waiting receive (0: the Unix socket)"),
  shmSpinUs: integer("ZMPI_SHM_SPIN_US", 0, 100_000, "user", "how long a waiting receive polls the shared-memory rings before it sleeps until woken, µs (0: never poll)", {
    unit: "µs",
    defaultText: "100; 0 when the machine has more of the job's ranks than cores",
  }),
  tcpSpinUs: integer(
    "ZMPI_TCP_SPIN_US",
    0,
    100_000,
    "user",
    "how long a receive waiting for a rank on another node polls its TCP connection before it sleeps in the event loop, µs (0: never poll)",
    { unit: "µs", defaultText: "100; 0 when the machine has more of the job's ranks than cores" },
  ),
  eagerLimit: integer(
    "ZMPI_EAGER_LIMIT",
    0,
    1 << 30,
    "user",
    "typed arrays up to this size are copied when sent and the send resolves at once; larger ones are sent without a copy and the send resolves when the receiver has them; `init({ eagerLimit })` wins",
    { unit: "bytes", defaultText: "16384" },
  ),
  metrics: flag("ZMPI_METRICS", false, "user", "print the per-rank metrics table on rank 0 at finalize"),
  codeCache: flag(
    "ZMPI_CODE_CACHE",
    true,
    "user",
    "keep V8's compiled code of zmpi in a private per-user directory (`$XDG_CACHE_HOME/zmpi`, else `~/.cache/zmpi`) so ranks start from it (0: compile at every start)",
  ),
  metricsDir: text("ZMPI_METRICS_DIR", "a directory", "user", "where `metrics.json` goes (else each results output's directory)"),
  mesh: text("ZMPI_MESH", "`dim:size,…` (`pp:2,dp:1,tp:2`)", "zmpi sbatch", 'the mesh `world.mesh("env")` builds'),
  meshPlacement: text("ZMPI_MESH_PLACEMENT", "`dim:inside-nodes|across-nodes|any,…`", "zmpi sbatch", "where the mesh's dimensions sit (`pp:across-nodes,tp:inside-nodes`)"),
  prefixed: flag("ZMPI_PREFIXED", false, "zmpi launch", "the launcher already prefixes each output line with the rank, so the logger does not"),
  launchFd: integer("ZMPI_LAUNCH_FD", 3, 65535, "zmpi launch", "the descriptor a rank reports its rendezvous progress on"),
} as const;

/** A setting's documentation: everything but its reader. */
export type SettingDoc = Pick<SettingSpec<unknown>, "name" | "accepts" | "defaultText" | "description" | "source">;

function doc(name: string, accepts: string, defaultText: string, source: SettingSource, description: string): SettingDoc {
  return { name, accepts, defaultText, description, source };
}

/**
 * Variables read where they are used, by code that checks each strictly: the launcher detection
 * (env/detect.ts, which `init({ env })` also feeds), collective selection (`ZMPI_ALG_<NAME>`,
 * collectives/select.ts), the bench; and those a script sets for the user's program.
 */
export const OTHER_SETTINGS: readonly SettingDoc[] = [
  doc("ZMPI_ALG_", "an algorithm name of that collective", "chosen by size", "user", "force one collective's algorithm: `ZMPI_ALG_ALLREDUCE=ring`"),
  doc("ZMPI_LAUNCHER", "slurm, zmpi, torchrun, ompi, single, auto", "auto", "user", "force the launcher detection"),
  doc("ZMPI_COORD_ADDR", "a host name or address", "first host of the step", "user", "override the coordinator's address"),
  doc("ZMPI_COORD_PORT", "a port, 1 to 65535", "61440 + (job mod 256)·16 + (step mod 16)", "user", "override the coordinator's port"),
  doc("ZMPI_HOST_ADDR", "a host name or address", "the node name, resolved", "user", "address this rank binds"),
  doc("ZMPI_NODE_NAME", "a name", "the host name", "zmpi launch", "this rank's node name"),
  doc("ZMPI_RANK", "an integer", "none", "zmpi launch", "this rank"),
  doc("ZMPI_SIZE", "an integer", "none", "zmpi launch", "ranks in the job"),
  doc("ZMPI_LOCAL_RANK", "an integer", "none", "zmpi launch", "rank among this node's ranks"),
  doc("ZMPI_LOCAL_SIZE", "an integer", "none", "zmpi launch", "ranks on this node"),
  doc("ZMPI_NODE_INDEX", "an integer", "none", "zmpi launch", "this node's index"),
  doc("ZMPI_NUM_NODES", "an integer", "none", "zmpi launch", "nodes in the job"),
  doc("ZMPI_JOB_ID", "a string", "none", "zmpi launch", "the job's id"),
  doc("ZMPI_EXP_NAME", "a string", "none", "zmpi sbatch", "the experiment job's name, for the program"),
  doc("ZMPI_EXP_DIR", "a directory", "none", "zmpi sbatch", "the job's directory in the run"),
  doc("ZMPI_EXP_CONFIG", "a file path", "none", "zmpi sbatch", "the job's `exp_config.json`"),
  doc("ZMPI_BENCH_PLAN", "JSON", "none", "zmpi bench", "the plan `zmpi bench` hands its ranks"),
];

/** The settings a rank runs with, read by {@link readSettings}. */
export type Settings = { readonly [K in keyof typeof SETTINGS]: (typeof SETTINGS)[K]["fallback"] | ReturnType<(typeof SETTINGS)[K]["parse"]> };

/** The environment to read: `process.env` or `init({ env })`. */
export type SettingsEnv = Readonly<Record<string, string | undefined>>;

/** One setting's value in `env`; a malformed value is a `UsageError` naming the variable and what fits. */
export function readSetting<T>(s: SettingSpec<T>, env: SettingsEnv = process.env): T {
  const raw = env[s.name];
  if (raw === undefined || raw === "") return s.fallback;
  try {
    return s.parse(raw);
  } catch (e) {
    throw new UsageError(`${s.name}=${JSON.stringify(raw)} ${(e as Error).message}: use ${s.accepts}`, { op: "init" });
  }
}

/** Every rank setting in `env`, read and checked at once. */
export function readSettings(env: SettingsEnv = process.env): Settings {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(SETTINGS)) out[key] = readSetting(s as SettingSpec<unknown>, env);
  return out as Settings;
}

const cell = (t: string) => t.replace(/\|/g, "\\|");

/** The README's table of settings, in Markdown (what `npm run docs:settings` writes). */
export function settingsTable(): string {
  const rows = [...Object.values(SETTINGS), ...OTHER_SETTINGS].map((s) => {
    const name = s.name.endsWith("_") ? `${s.name}<NAME>` : s.name;
    return `| \`${name}\` | ${cell(s.accepts)} | ${cell(s.defaultText)} | ${s.source} | ${cell(s.description)} |`;
  });
  return ["| variable | takes | default | set by | what it does |", "| --- | --- | --- | --- | --- |", ...rows].join("\n");
}
