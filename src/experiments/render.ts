/**
 * A validated job config → a complete, commented sbatch script and the job's `exp_config.json`.
 *
 * The script does what the hand-written templates did: a fresh secret per job, transparent huge
 * pages, `ZMPI_TIMEOUT` deadlines, `srun --export=ALL --kill-on-bad-exit=1`, block distribution,
 * and a shape check that refuses, before any rank starts, a mesh that does not fill the job or
 * does not sit on the nodes as its placement says (the job may be submitted with other `-N` /
 * `--ntasks-per-node` than the config's, so the config check alone is not enough). The checks use
 * the closed forms of the placement rules in src/groups/mesh-env.ts (tested against them).
 *
 * The `local` executor renders the same script with `zmpi launch -n N --nodes K` in place of
 * `srun`, for machines without Slurm. Rendering is deterministic: the same config gives the same
 * bytes (the templates in slurm/ are checked that way).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatMeshShape, formatPlacement } from "../groups/mesh-env.js";
import { writeFileAtomic } from "../results/atomic.js";
import type { JobConfig } from "./config.js";
import { EXIT_MARKER } from "./scheduler.js";

/** Where jobs run: real Slurm (`sbatch`/`srun`) or this machine (`zmpi launch`). */
export type Executor = "slurm" | "local";

/** Options of {@link renderJob}. */
export interface RenderOptions {
  /** Absolute directory of the job's files (output, results, metrics); none for a reusable template. */
  jobDir?: string;
  /** `slurm` (default) or `local`. */
  executor?: Executor;
  /** The config file, as it should be named in the script's header. */
  source?: string;
  /** Path of zmpi's `launcher/bin.mjs` (local executor; default: this installation's). */
  zmpiBin?: string;
}

/** What `exp_config.json` holds: the resolved job and how it was rendered. */
export interface ExpConfig {
  version: 1;
  name: string;
  executor: Executor;
  source: string | null;
  /** The validated job, defaults filled, mesh sizes resolved, placement explicit. */
  job: JobConfig;
  /** World size. */
  tasks: number;
  /** `ZMPI_MESH` / `ZMPI_MESH_PLACEMENT` values, if the job has a mesh. */
  mesh: string | null;
  placement: string | null;
  /** Directory of the job's files, and the script's name in it. */
  jobDir: string | null;
  script: string;
}

/** A rendered job. */
export interface Rendered {
  /** The sbatch script (or local script). */
  script: string;
  /** File name of the script in the job directory. */
  scriptName: string;
  /** The content of `exp_config.json`. */
  config: ExpConfig;
}

/** Shell-quotes a word (left bare when it is plainly safe). */
function shq(s: string): string {
  return /^[A-Za-z0-9_/.,:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** zmpi's own `launcher/bin.mjs`, found from this module (src/ under tsx, dist/src/ when built). */
function zmpiBinPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const bin = join(dir, "launcher", "bin.mjs");
    const pkg = join(dir, "package.json");
    if (existsSync(bin) && existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "zmpi") return bin;
    dir = dirname(dir);
  }
  throw new Error(`cannot find zmpi's launcher/bin.mjs above ${fileURLToPath(import.meta.url)}`);
}

const COMMENT_COLUMN = 36;

/** `#SBATCH --opt=value   # comment`, comments aligned as in the hand-written templates. */
function sbatchLine(opt: string, comment?: string): string {
  const head = `#SBATCH ${opt}`;
  return comment ? `${head.padEnd(COMMENT_COLUMN - 1)} # ${comment}` : head;
}

const commentLines = (text: string | string[] | undefined): string[] =>
  text === undefined ? [] : (Array.isArray(text) ? text : text.split("\n")).map((l) => (l === "" ? "#" : `# ${l}`));

function header(job: JobConfig, o: RenderOptions): string[] {
  const out = ["#!/bin/bash", ...commentLines(job.description)];
  if (o.source) {
    if (out.length > 1) out.push("#");
    out.push(`# Rendered by "zmpi sbatch" from ${o.source}: edit that file and render again, not this one.`);
  }
  if (job.mesh) {
    const dims = Object.keys(job.mesh);
    const parts = dims.map((d) => `${d}=${job.mesh![d]}${job.placement![d] === "any" ? "" : ` (${job.placement![d]!.replace("-", " ")})`}`);
    out.push(`# Mesh, slowest -> fastest: ${parts.join(" x ")}${job.template ? "; PP=, TP=, ... in the environment override the sizes" : ""}.`);
  }
  return out;
}

function sbatchLines(job: JobConfig, o: RenderOptions): string[] {
  const tasks = job.nodes * job.tasksPerNode;
  const lastInside = job.mesh && Object.entries(job.placement!).at(-1)?.[1] === "inside-nodes" ? Object.keys(job.mesh).at(-1)! : null;
  const lines = [sbatchLine(`--job-name=${job.name}`, "name shown by squeue")];
  if (job.nodes === 1) {
    lines.push(sbatchLine("--nodes=1", "everything on one node"), sbatchLine(`--ntasks=${tasks}`, "number of ranks (world size)"));
  } else {
    lines.push(
      sbatchLine(`--nodes=${job.nodes}`, "number of nodes"),
      sbatchLine(
        `--ntasks-per-node=${job.tasksPerNode}`,
        lastInside
          ? `ranks per node: a multiple of ${lastInside.toUpperCase()} (${lastInside.toUpperCase()} groups never span nodes)`
          : "ranks per node: world size = nodes x ntasks-per-node",
      ),
    );
  }
  lines.push(
    sbatchLine(`--cpus-per-task=${job.cpusPerTask}`, "CPUs per rank; world.pool() sizes its worker threads from this"),
    sbatchLine(`--time=${job.time}`, "wall-clock limit (HH:MM:SS); Slurm sends SIGTERM, then SIGKILL"),
  );
  if (job.partition) lines.push(sbatchLine(`--partition=${job.partition}`, "partition (queue)"));
  if (job.account) lines.push(sbatchLine(`--account=${job.account}`, "account charged for the job"));
  if (job.qos) lines.push(sbatchLine(`--qos=${job.qos}`, "quality of service"));
  if (job.gres) lines.push(sbatchLine(`--gres=${job.gres}`, "generic resources per node (e.g. GPUs)"));
  const out = o.jobDir ? join(o.jobDir, "slurm-%j.out") : "zmpi-%x-%j.out";
  lines.push(sbatchLine(`--output=${out}`, `stdout and stderr of every rank (${o.jobDir ? "%j" : "%x = job name, %j"} = job id)`));
  if (job.workdir) lines.push(sbatchLine(`--chdir=${job.workdir}`, "the job runs here"));
  for (const s of job.sbatch) lines.push(sbatchLine(s, 'from the config\'s "sbatch"'));
  return lines;
}

/** Bash that fixes the mesh sizes, refuses a shape that does not fit, and exports ZMPI_MESH. */
function meshLines(job: JobConfig, o: RenderOptions): string[] {
  if (!job.mesh) return [];
  const dims = Object.keys(job.mesh);
  const v = (d: string) => `MESH_${d.toUpperCase()}`;
  const label = job.name;
  const lines: string[] = [""];
  if (job.template) lines.push(`# Mesh sizes: the config's, unless ${dims.map((d) => `${d.toUpperCase()}=`).join(", ")} are set in the environment sbatch passes on.`);
  for (const d of dims) lines.push(job.template ? `${v(d)}="\${${d.toUpperCase()}:-${job.mesh[d]}}"` : `${v(d)}=${job.mesh[d]}`);
  lines.push("");
  if (o.executor === "local") {
    lines.push(`NTASKS=${job.nodes * job.tasksPerNode}`, `PER_NODE=${job.tasksPerNode}`);
  } else {
    lines.push(
      "# The shape must fill the allocation exactly (sbatch -N / --ntasks-per-node may differ from the",
      "# config), and each dimension must sit on the nodes as its placement says (block distribution:",
      "# rank r on node floor(r / tasks per node)).",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion in the generated script
      'NTASKS="${SLURM_NTASKS:?not inside a Slurm job}"',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion in the generated script
      'PER_NODE="${SLURM_NTASKS_PER_NODE:-$(( NTASKS / SLURM_JOB_NUM_NODES ))}"',
    );
  }
  const prod = (ds: string[]) => ds.map(v).join(" * ");
  lines.push(
    "BAD=0",
    `if (( ${prod(dims)} != NTASKS )); then`,
    `  echo "${label}: ${dims.map((d) => `${d}=$${v(d)}`).join(" x ")} = $(( ${prod(dims)} )) ranks, but the job has $NTASKS tasks" >&2`,
    "  BAD=1",
    "fi",
  );
  dims.forEach((d, i) => {
    const p = job.placement![d];
    const rest = dims.slice(i);
    const block = rest.length === 1 ? v(d) : `(${prod(rest)})`;
    const name = rest.length === 1 ? `${d}=$${v(d)}` : `${rest.join("*")}=$(( ${prod(rest)} ))`;
    if (p === "inside-nodes") {
      lines.push(
        `if (( ${v(d)} > 1 && PER_NODE % ${block} != 0 )); then`,
        `  echo "${label}: $PER_NODE tasks per node is not a multiple of ${name}: ${d.toUpperCase()} groups would span nodes (placement ${d}: inside-nodes)" >&2`,
        "  BAD=1",
        "fi",
      );
    } else if (p === "across-nodes") {
      const stride = dims.slice(i + 1).length ? `(${prod(dims.slice(i + 1))})` : "1";
      lines.push(
        `if (( (${v(d)} - 1) * ${stride} < PER_NODE )); then`,
        `  echo "${label}: with $PER_NODE tasks per node some ${d} groups sit inside one node (placement ${d}: across-nodes)" >&2`,
        "  BAD=1",
        "fi",
      );
    }
  });
  lines.push(
    "(( BAD == 0 )) || exit 2",
    "",
    '# The program reads the shape with world.mesh("env") (or meshFromEnv()), checked again on the real nodes.',
    `export ZMPI_MESH="${dims.map((d) => `${d}:$${v(d)}`).join(",")}"`,
    `export ZMPI_MESH_PLACEMENT=${shq(formatPlacement(job.placement!))}`,
  );
  return lines;
}

function runtimeLines(job: JobConfig, _o: RenderOptions): string[] {
  const lines = [
    "",
    "# One secret per job, shared by every rank through the environment: srun copies this shell's",
    "# environment into every task on every node (--export=ALL below, which also holds when the job",
    "# was submitted with --export=NONE). Never echo it: job output files are often world-readable.",
    `ZMPI_SECRET="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \\n')"`,
    "export ZMPI_SECRET",
  ];
  if (job.hugePages) {
    lines.push(
      "# Transparent huge pages for Node's large arrays (glibc): fewer page faults, faster same-node",
      "# copies (zmpi launch sets the same; remove to keep the system default).",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion in the generated script
      'export GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.hugetlb=1"',
    );
  }
  lines.push(
    "",
    "# Deadline in seconds for rendezvous and for every wait (a recv, a collective, finalize): a hung",
    "# or missing rank fails the job with an error naming it instead of burning the allocation.",
    "# Must exceed the longest time one rank computes while another waits for it (in a pipeline, a stage).",
    `export ZMPI_TIMEOUT="\${ZMPI_TIMEOUT:-${job.timeout}}"`,
  );
  const env = Object.entries(job.env);
  if (env.length) lines.push("", '# The config\'s "env", for every rank.', ...env.map(([k, val]) => `export ${k}=${shq(val)}`));
  return lines;
}

function launchLines(job: JobConfig, o: RenderOptions): string[] {
  const ts = job.template || /\.(c|m)?tsx?$/.test(job.program);
  const lines: string[] = [""];
  let prog: string;
  if (job.template) {
    lines.push(`APP="\${1:-${job.program}}"`, "shift || true", "");
    prog = `"$APP" "$@"`;
  } else prog = [job.program, ...job.args].map(shq).join(" ");
  if (o.executor === "local") {
    const bin = o.zmpiBin ?? zmpiBinPath();
    if (job.nodeOptions.length) lines.push(`export NODE_OPTIONS=${shq(job.nodeOptions.join(" "))}`);
    lines.push(
      "# Local executor: zmpi launch starts the ranks on this machine, spread over pretend nodes in",
      "# blocks as srun would, and stops them all when one fails (like --kill-on-bad-exit).",
      `node ${shq(bin)} launch -n ${job.nodes * job.tasksPerNode} --nodes ${job.nodes} ${prog}`,
    );
    return lines;
  }
  const node = ["node", ...job.nodeOptions.map(shq), ...(ts ? ["--import", "tsx"] : [])].join(" ");
  const dist = job.distribution ?? (job.nodes > 1 ? "block" : undefined);
  lines.push("# --kill-on-bad-exit=1: when one rank fails, srun stops the others at once (zmpi's ranks would", "# notice the death and exit on their own within seconds anyway).");
  if (dist?.startsWith("block")) {
    lines.push(
      `# --distribution=${dist}: consecutive ranks fill a node before the next (rank r is on node`,
      "# floor(r / ntasks-per-node)), so the mesh's fastest dimension stays on one node.",
    );
  } else if (dist) lines.push(`# --distribution=${dist}: as the config asks.`);
  if (job.container) lines.push(`# Every rank runs inside: ${job.container}`);
  if (ts) lines.push('# TypeScript runs through tsx; for compiled JavaScript use "node dist/app.js" instead.');
  const srun = ["srun", "--export=ALL", "--kill-on-bad-exit=1", ...(dist ? [`--distribution=${dist}`] : [])].join(" ");
  lines.push(`${srun} ${job.container ? `${job.container} ` : ""}${node} ${prog}`);
  return lines;
}

/**
 * Renders one job: the script and its `exp_config.json`.
 *
 * ```ts
 * const job = parseJob(await readConfigFile("job.json"));
 * const { script } = renderJob(job, { jobDir: "/work/runs/run_1/tp-across" });
 * ```
 */
export function renderJob(job: JobConfig, o: RenderOptions = {}): Rendered {
  const executor = o.executor ?? "slurm";
  const opts = { ...o, executor };
  const lines = [...header(job, opts), "#", ...sbatchLines(job, opts), "", "set -euo pipefail"];
  if (o.jobDir) {
    lines.push(
      "",
      "# Where this job's files go (results, metrics.json), and its resolved config.",
      `export ZMPI_EXP_NAME=${shq(job.name)}`,
      `export ZMPI_EXP_DIR=${shq(o.jobDir)}`,
      `export ZMPI_EXP_CONFIG=${shq(join(o.jobDir, "exp_config.json"))}`,
    );
    if (executor === "slurm") {
      lines.push(
        '# Leave "<exit status> <end time>" in job.exit when the script ends: "zmpi status" reads it once',
        "# the controller has forgotten the job (on clusters without accounting, after MinJobAge).",
        `trap 'c=$?; echo "$c $(date -u +%FT%TZ)" > "$ZMPI_EXP_DIR/${EXIT_MARKER}.tmp" && mv "$ZMPI_EXP_DIR/${EXIT_MARKER}.tmp" "$ZMPI_EXP_DIR/${EXIT_MARKER}"' EXIT`,
      );
    }
  }
  if (job.modules.length && executor === "slurm") lines.push("", `module load ${job.modules.map(shq).join(" ")}`);
  lines.push(...meshLines(job, opts), ...runtimeLines(job, opts), ...launchLines(job, opts));
  const scriptName = executor === "local" ? "job.local.sh" : "job.sbatch";
  return {
    script: `${lines.join("\n")}\n`,
    scriptName,
    config: {
      version: 1,
      name: job.name,
      executor,
      source: o.source ?? null,
      job,
      tasks: job.nodes * job.tasksPerNode,
      mesh: job.mesh ? formatMeshShape(job.mesh) : null,
      placement: job.placement ? formatPlacement(job.placement) : null,
      jobDir: o.jobDir ?? null,
      script: scriptName,
    },
  };
}

/** Writes a rendered job into its directory: the script (executable) and `exp_config.json`. */
export function writeRendered(jobDir: string, r: Rendered): { scriptPath: string; configPath: string } {
  mkdirSync(jobDir, { recursive: true });
  const scriptPath = join(jobDir, r.scriptName);
  writeFileSync(scriptPath, r.script, { mode: 0o755 });
  const configPath = join(jobDir, "exp_config.json");
  writeFileAtomic(configPath, `${JSON.stringify(r.config, null, 2)}\n`);
  return { scriptPath, configPath };
}
