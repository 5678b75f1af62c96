/**
 * The mesh shape as it travels in a job's environment, and the placement rules both ends apply.
 *
 * `zmpi sbatch` renders a config's mesh into `ZMPI_MESH=pp:2,dp:2,tp:2` and its placement into
 * `ZMPI_MESH_PLACEMENT=pp:across-nodes,tp:inside-nodes`; the program reads both in one call
 * (`world.mesh("env")` / {@link meshFromEnv}). The config check (before anything is submitted) and
 * the runtime check (on the real node layout) run the same function, {@link placementProblems},
 * so a shape the config accepted is never refused by the job, and the other way round.
 *
 * Placement is an explicit choice: "inside-nodes" means every group of the dimension sits in one
 * node, "across-nodes" that every group spans two nodes or more. The last (fastest, chattiest)
 * dimension is "inside-nodes" unless the placement says otherwise; the others are "any".
 */
import { UsageError } from "../errors.js";
import type { Communicator } from "./communicator.js";
import type { Mesh, MeshOptions } from "./mesh.js";

/** Where the groups of one mesh dimension must sit. */
export type Placement = "inside-nodes" | "across-nodes" | "any";

/** How the groups of one dimension actually sit: a dimension of size 1 is "single". */
export type ObservedPlacement = "inside-nodes" | "across-nodes" | "mixed" | "single";

/** A mesh shape with its placement, as read from the environment or a config. */
export interface MeshSpec {
  /** Dimension sizes, slowest → fastest; one may be -1 (inferred from the communicator's size). */
  shape: Record<string, number>;
  /** Placement of each dimension that has one (the rest: see {@link effectivePlacement}). */
  placement: Record<string, Placement>;
}

/** Environment variable holding the mesh shape, `pp:2,dp:2,tp:2`. */
const MESH_ENV = "ZMPI_MESH";
/** Environment variable holding the placement, `pp:across-nodes,tp:inside-nodes`. */
const PLACEMENT_ENV = "ZMPI_MESH_PLACEMENT";

const PLACEMENTS: readonly Placement[] = ["inside-nodes", "across-nodes", "any"];
const DIM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses `pp:2,dp:2,tp:-1` (also `pp=2`); errors name the variable and the bad part. */
export function parseMeshShape(text: string, source = MESH_ENV): Record<string, number> {
  const out: Record<string, number> = {};
  const parts = text.split(",").map((p) => p.trim());
  if (text.trim() === "" || parts.some((p) => p === "")) throw new UsageError(`${source}="${text}": expected dimensions like "pp:2,dp:2,tp:2"`, { op: "mesh" });
  for (const part of parts) {
    const m = /^([^:=\s]+)\s*[:=]\s*(-?\d+)$/.exec(part);
    if (!m) throw new UsageError(`${source}="${text}": "${part}" is not name:size (e.g. "tp:2")`, { op: "mesh" });
    const [, name, size] = m as unknown as [string, string, string];
    if (!DIM_NAME.test(name)) throw new UsageError(`${source}: dimension name "${name}" must be letters, digits or _`, { op: "mesh" });
    if (name in out) throw new UsageError(`${source}="${text}": dimension "${name}" is given twice`, { op: "mesh" });
    out[name] = Number(size);
  }
  return out;
}

/** The inverse of {@link parseMeshShape}: `{ pp: 2, tp: 2 }` → `pp:2,tp:2`. */
export function formatMeshShape(shape: Readonly<Record<string, number>>): string {
  return Object.entries(shape)
    .map(([d, n]) => `${d}:${n}`)
    .join(",");
}

/** Parses `pp:across-nodes,tp:inside-nodes`. */
export function parsePlacement(text: string, source = PLACEMENT_ENV): Record<string, Placement> {
  const out: Record<string, Placement> = {};
  if (text.trim() === "") return out;
  for (const part of text.split(",").map((p) => p.trim())) {
    const m = /^([^:=\s]+)\s*[:=]\s*(\S+)$/.exec(part);
    const value = m?.[2] as Placement | undefined;
    if (!m || !value || !PLACEMENTS.includes(value)) throw new UsageError(`${source}="${text}": "${part}" must be dim:${PLACEMENTS.join("|")}`, { op: "mesh" });
    out[m[1]!] = value;
  }
  return out;
}

/** The inverse of {@link parsePlacement}. */
export function formatPlacement(placement: Readonly<Record<string, Placement>>): string {
  return Object.entries(placement)
    .map(([d, p]) => `${d}:${p}`)
    .join(",");
}

/**
 * Placement of every dimension: what was given, else "inside-nodes" for the last dimension (the
 * fastest, whose ranks are consecutive) and "any" for the others.
 */
export function effectivePlacement(dims: readonly string[], given: Readonly<Record<string, Placement>>): Record<string, Placement> {
  const out: Record<string, Placement> = {};
  dims.forEach((d, i) => (out[d] = given[d] ?? (i === dims.length - 1 ? "inside-nodes" : "any")));
  return out;
}

/**
 * Fills the -1 dimension from `size` and checks that the product is `size`. `where` names the
 * field or variable in errors.
 */
export function resolveShape(shape: Readonly<Record<string, number>>, size: number, where: string): number[] {
  const dims = Object.keys(shape);
  if (dims.length === 0) throw new UsageError(`${where}: a mesh needs at least one dimension`, { op: "mesh" });
  const sizes = dims.map((d) => shape[d]!);
  sizes.forEach((x, i) => {
    if (!Number.isInteger(x) || (x < 1 && x !== -1)) throw new UsageError(`${where}.${dims[i]} must be a positive integer or -1 (inferred), got ${x}`, { op: "mesh" });
  });
  const inferred = sizes.filter((x) => x === -1).length;
  if (inferred > 1) throw new UsageError(`${where}: only one dimension may be -1 (inferred), got ${dims.filter((_, i) => sizes[i] === -1).join(" and ")}`, { op: "mesh" });
  const known = sizes.filter((x) => x !== -1).reduce((a, b) => a * b, 1);
  if (inferred === 1) {
    if (size % known !== 0) throw new UsageError(`${where}: cannot infer the -1 dimension: ${size} tasks are not divisible by ${known}`, { op: "mesh" });
    return sizes.map((x) => (x === -1 ? size / known : x));
  }
  if (known !== size) throw new UsageError(`${where}: ${dims.map((d, i) => `${d}=${sizes[i]}`).join(" x ")} = ${known} ranks, but the job has ${size} tasks`, { op: "mesh" });
  return sizes;
}

/** How the groups of dimension `i` sit on nodes, given each rank's node (row-major mesh order). */
export function observePlacement(sizes: readonly number[], i: number, nodeOfRank: readonly (string | number)[]): ObservedPlacement {
  const n = sizes[i]!;
  if (n === 1) return "single";
  const stride = sizes.slice(i + 1).reduce((a, b) => a * b, 1);
  let inside = 0;
  let across = 0;
  for (let r = 0; r < nodeOfRank.length; r++) {
    if (Math.floor(r / stride) % n !== 0) continue; // r is the first member of its group
    const nodes = new Set<string | number>();
    for (let k = 0; k < n; k++) nodes.add(nodeOfRank[r + k * stride]!);
    if (nodes.size === 1) inside++;
    else across++;
  }
  return across === 0 ? "inside-nodes" : inside === 0 ? "across-nodes" : "mixed";
}

/**
 * Why the mesh does not sit on the nodes as its placement says (empty: it does). `nodeOfRank` is
 * each rank's node; `perNode` (when every node holds the same number of ranks) lets the message
 * say what would fit. `where` names the config field or variable.
 */
export function placementProblems(
  dims: readonly string[],
  sizes: readonly number[],
  placement: Readonly<Record<string, Placement>>,
  nodeOfRank: readonly (string | number)[],
  where: string,
): string[] {
  const problems: string[] = [];
  const nodes = new Set(nodeOfRank).size;
  const counts = new Map<string | number, number>();
  for (const n of nodeOfRank) counts.set(n, (counts.get(n) ?? 0) + 1);
  const perNode = new Set(counts.values()).size === 1 ? nodeOfRank.length / nodes : null;
  dims.forEach((d, i) => {
    const want = placement[d] ?? "any";
    if (want === "any") return;
    const got = observePlacement(sizes, i, nodeOfRank);
    if (got === "single" && want === "inside-nodes") return;
    if (got === want) return;
    const block = sizes.slice(i).reduce((a, b) => a * b, 1);
    const stride = block / sizes[i]!;
    const label = i === dims.length - 1 ? `${d}=${sizes[i]}` : `${dims.slice(i).join("*")}=${block}`;
    if (want === "inside-nodes") {
      const fix = perNode !== null ? `${label} does not divide ${perNode} tasks per node` : `some ${d} groups span nodes`;
      problems.push(
        `${where}.${d}: ${fix}, so ${d.toUpperCase()} groups cannot sit inside nodes; make tasks per node a multiple of ${block}, or to place ${d.toUpperCase()} across nodes say placement: { ${d}: "across-nodes" }`,
      );
    } else if (nodes < 2) {
      problems.push(`${where}.${d}: placement "across-nodes" needs a job of 2 nodes or more, but this one has ${nodes}`);
    } else if (got === "single") {
      problems.push(`${where}.${d}: ${d}=1 has no group to place across nodes; use placement "any" or a size above 1`);
    } else {
      const why = perNode !== null ? `(${sizes[i]} - 1) x stride ${stride} < ${perNode} tasks per node` : `its groups do not all span nodes`;
      problems.push(`${where}.${d}: some ${d} groups sit inside one node ${why}; place ${d} "inside-nodes" or "any", or use fewer tasks per node`);
    }
  });
  return problems;
}

/** Node index of each rank with Slurm's block distribution of `perNode` tasks on `nodes` nodes. */
export function blockNodes(nodes: number, perNode: number): number[] {
  return Array.from({ length: nodes * perNode }, (_, r) => Math.floor(r / perNode));
}

/** Options of {@link meshSpecFromEnv}. */
export interface MeshEnvOptions {
  /** Where to read `ZMPI_MESH` and `ZMPI_MESH_PLACEMENT` (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Shape to use when `ZMPI_MESH` is not set (default: none, which is an error). */
  fallback?: Record<string, number>;
}

/** The mesh shape and placement in the environment (`ZMPI_MESH`, `ZMPI_MESH_PLACEMENT`). */
export function meshSpecFromEnv(opts: MeshEnvOptions = {}): MeshSpec {
  const env = opts.env ?? process.env;
  const text = env[MESH_ENV];
  let shape: Record<string, number>;
  if (text === undefined || text === "") {
    if (!opts.fallback) throw new UsageError(`${MESH_ENV} is not set: "zmpi sbatch" sets it from the config's mesh; by hand: ${MESH_ENV}=pp:2,dp:2,tp:2`, { op: "mesh" });
    shape = { ...opts.fallback };
  } else shape = parseMeshShape(text);
  const placement = parsePlacement(env[PLACEMENT_ENV] ?? "");
  for (const d of Object.keys(placement)) {
    if (!(d in shape)) throw new UsageError(`${PLACEMENT_ENV} places "${d}", which is not a dimension of ${MESH_ENV}=${formatMeshShape(shape)}`, { op: "mesh" });
  }
  return { shape, placement };
}

/**
 * `comm.mesh("env")` as a function: the mesh whose shape and placement the job's environment
 * carries. Collective over `comm`.
 *
 * ```ts
 * import { init, meshFromEnv } from "zmpi";
 * const world = await init();
 * const mesh = await meshFromEnv<"pp" | "dp" | "tp">(world);   // ZMPI_MESH=pp:2,dp:1,tp:2
 * ```
 */
export function meshFromEnv<D extends string = string>(
  comm: Communicator,
  opts: MeshOptions & MeshEnvOptions = {},
): Promise<Mesh<Communicator> & { readonly [K in D]: Communicator }> {
  return comm.mesh<D>("env", opts);
}
