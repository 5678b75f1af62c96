/**
 * Named meshes (torch's DeviceMesh, Megatron's rank generator): dimensions listed slowest →
 * fastest, row-major, so the last dimension's ranks are consecutive. With Slurm's block layout and
 * tasks per node a multiple of the last dimension, every group of it sits inside one node; that is
 * why `tp` goes last in `{ pp, dp, tp }`, and `walker` last in `{ state, walker }`.
 */
import { UsageError } from "../errors.js";
import { observePlacement, placementProblems, type ObservedPlacement, type Placement } from "./mesh-env.js";

/** What a mesh needs from its parent communicator. */
interface MeshParent<C> {
  readonly rank: number;
  readonly size: number;
  readonly name: string;
  split(color: number, key?: number, name?: string): Promise<C | null>;
  allgather<T>(data: T): Promise<T[]>;
  /** @internal */
  readonly engine: { nodeName: string };
}

/** Options of `comm.mesh()`. */
export interface MeshOptions {
  /** Where the placement warning goes (default: stderr on rank 0). */
  warn?: (message: string) => void;
  /**
   * Where each dimension's groups must sit: `"inside-nodes"`, `"across-nodes"` or `"any"` (the
   * default for a dimension not listed). Checked on the real node layout before any group is made;
   * a mismatch is a `UsageError` on every rank. `mesh("env")` fills it from `ZMPI_MESH_PLACEMENT`.
   */
  placement?: Readonly<Record<string, Placement>>;
}

const RESERVED = new Set(["dims", "shape", "coords", "get", "ranksOf", "rankAt", "coordsOf", "sub", "nodeLocal", "placementOf", "parent", "size", "rank", "then"]);

/** Up to `max` ways to write `size` as an ordered product of `k` factors, closest to `wanted` first. */
export function factorizations(size: number, k: number, wanted: readonly number[], max = 4): number[][] {
  const out: number[][] = [];
  const rec = (left: number, acc: number[]) => {
    if (acc.length === k - 1) {
      out.push([...acc, left]);
      return;
    }
    for (let f = 1; f <= left; f++) if (left % f === 0) rec(left / f, [...acc, f]);
  };
  rec(size, []);
  const score = (f: number[]) => f.reduce((s, x, i) => s + (x === wanted[i] ? 0 : 1), 0);
  return out.sort((a, b) => score(a) - score(b)).slice(0, max);
}

/** A mesh of communicators over named dimensions. */
export class Mesh<C> {
  /** Dimension names, slowest → fastest. */
  readonly dims: readonly string[];
  /** Size of each dimension. */
  readonly shape: readonly number[];
  /** This rank's coordinate along each dimension. */
  readonly coords: Readonly<Record<string, number>>;
  private readonly comms = new Map<string, C>();
  private readonly strides: number[];
  private readonly nodes: readonly string[];

  private constructor(
    /** The communicator the mesh spans. */
    readonly parent: MeshParent<C>,
    dims: string[],
    shape: number[],
    nodes: string[],
  ) {
    this.dims = dims;
    this.shape = shape;
    this.nodes = nodes;
    this.strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
    this.coords = this.coordsOf(parent.rank);
  }

  /** Builds a mesh and its per-dimension communicators (collective over `parent`). */
  static async create<C>(parent: MeshParent<C>, spec: Record<string, number>, opts: MeshOptions = {}): Promise<Mesh<C>> {
    const dims = Object.keys(spec);
    if (dims.length === 0) throw new UsageError("a mesh needs at least one dimension", { comm: parent.name, op: "mesh" });
    for (const d of dims) if (RESERVED.has(d)) throw new UsageError(`"${d}" cannot be a mesh dimension name (it is a Mesh property)`, { comm: parent.name, op: "mesh" });
    let shape = dims.map((d) => spec[d]!);
    const inferred = shape.filter((x) => x === -1).length;
    if (inferred > 1) throw new UsageError("only one mesh dimension may be -1 (inferred)", { comm: parent.name, op: "mesh" });
    for (const [i, x] of shape.entries()) {
      if (!(Number.isInteger(x) && (x >= 1 || x === -1)))
        throw new UsageError(`mesh dimension ${dims[i]} must be a positive integer (or -1), got ${x}`, { comm: parent.name, op: "mesh" });
    }
    if (inferred === 1) {
      const known = shape.filter((x) => x !== -1).reduce((a, b) => a * b, 1);
      if (parent.size % known !== 0) throw new UsageError(`cannot infer the -1 dimension: ${parent.size} ranks are not divisible by ${known}`, { comm: parent.name, op: "mesh" });
      shape = shape.map((x) => (x === -1 ? parent.size / known : x));
    }
    const product = shape.reduce((a, b) => a * b, 1);
    if (product !== parent.size) {
      const fits = factorizations(parent.size, dims.length, shape)
        .map((f) => `{ ${f.map((x, i) => `${dims[i]}: ${x}`).join(", ")} }`)
        .join(", ");
      throw new UsageError(`mesh { ${dims.map((d, i) => `${d}: ${shape[i]}`).join(", ")} } has ${product} ranks but ${parent.name} has ${parent.size}; shapes that fit: ${fits}`, {
        comm: parent.name,
        op: "mesh",
      });
    }
    const nodes = await parent.allgather(parent.engine.nodeName);
    if (opts.placement) {
      for (const d of Object.keys(opts.placement))
        if (!dims.includes(d)) throw new UsageError(`placement names "${d}", which is not a mesh dimension (dimensions: ${dims.join(", ")})`, { comm: parent.name, op: "mesh" });
      // Every rank holds the same node list, so every rank reaches the same verdict here.
      const problems = placementProblems(dims, shape, opts.placement, nodes, "mesh");
      if (problems.length > 0) throw new UsageError(problems.join("; "), { comm: parent.name, op: "mesh" });
    }
    const mesh = new Mesh(parent, dims, shape, nodes);
    for (const d of dims) {
      const i = dims.indexOf(d);
      // Color: my position along every other dimension; key: my coordinate along this one.
      const color = dims.reduce((acc, o, j) => (j === i ? acc : acc * shape[j]! + mesh.coords[o]!), 0);
      const comm = await parent.split(color, mesh.coords[d]!, `${parent.name}.mesh.${d}`);
      mesh.comms.set(d, comm!);
      Object.defineProperty(mesh, d, { value: comm, enumerable: true });
    }
    mesh.checkPlacement(opts);
    return mesh;
  }

  /** The communicator of one dimension. */
  get(dim: string): C {
    const c = this.comms.get(dim);
    if (!c) throw new UsageError(`mesh has no dimension "${dim}" (dimensions: ${this.dims.join(", ")})`);
    return c;
  }

  /** Rank (in the parent) at the given coordinates. */
  rankAt(coords: Readonly<Record<string, number>>): number {
    let r = 0;
    for (const [i, d] of this.dims.entries()) {
      const x = coords[d];
      if (x === undefined || !Number.isInteger(x) || x < 0 || x >= this.shape[i]!) throw new UsageError(`coordinate ${d}=${String(x)} is outside 0..${this.shape[i]! - 1}`);
      r += x * this.strides[i]!;
    }
    return r;
  }

  /** Coordinates of a rank of the parent. */
  coordsOf(rank: number): Record<string, number> {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.parent.size) throw new UsageError(`rank ${rank} is outside the mesh (0..${this.parent.size - 1})`);
    const out: Record<string, number> = {};
    for (const [i, d] of this.dims.entries()) out[d] = Math.floor(rank / this.strides[i]!) % this.shape[i]!;
    return out;
  }

  /**
   * Parent ranks of the group along `dims` (one name or several) through `coords` (default: this
   * rank's): the ranks that share every other coordinate, in mesh order.
   */
  ranksOf(dims: string | readonly string[], coords: Readonly<Record<string, number>> = this.coords): number[] {
    const along = typeof dims === "string" ? [dims] : [...dims];
    for (const d of along) if (!this.dims.includes(d)) throw new UsageError(`mesh has no dimension "${d}" (dimensions: ${this.dims.join(", ")})`);
    const base = { ...this.coords, ...coords };
    const out: number[] = [];
    for (let r = 0; r < this.parent.size; r++) {
      const c = this.coordsOf(r);
      if (this.dims.every((d) => along.includes(d) || c[d] === base[d])) out.push(r);
    }
    return out;
  }

  /** A communicator over several dimensions at once (e.g. `["dp", "tp"]`). Collective over the parent. */
  async sub(dims: readonly string[]): Promise<C> {
    for (const d of dims) if (!this.dims.includes(d)) throw new UsageError(`mesh has no dimension "${d}" (dimensions: ${this.dims.join(", ")})`);
    const rest = this.dims.filter((d) => !dims.includes(d));
    const color = rest.reduce((acc, d) => acc * this.shape[this.dims.indexOf(d)]! + this.coords[d]!, 0);
    const ordered = this.dims.filter((d) => dims.includes(d));
    const key = ordered.reduce((acc, d) => acc * this.shape[this.dims.indexOf(d)]! + this.coords[d]!, 0);
    return (await this.parent.split(color, key, `${this.parent.name}.mesh.${ordered.join("+")}`))!;
  }

  /** True if every group of `dim` sits inside one node. */
  nodeLocal(dim: string): boolean {
    const i = this.dims.indexOf(dim);
    if (i < 0) throw new UsageError(`mesh has no dimension "${dim}"`);
    for (let r = 0; r < this.parent.size; r++) {
      const group = this.ranksOf(dim, this.coordsOf(r));
      if (new Set(group.map((g) => this.nodes[g])).size > 1) return false;
    }
    return true;
  }

  /**
   * How the groups of `dim` sit on the nodes: `"inside-nodes"` (each group in one node),
   * `"across-nodes"` (each group on two nodes or more), `"mixed"`, or `"single"` (size 1).
   */
  placementOf(dim: string): ObservedPlacement {
    const i = this.dims.indexOf(dim);
    if (i < 0) throw new UsageError(`mesh has no dimension "${dim}" (dimensions: ${this.dims.join(", ")})`);
    return observePlacement(this.shape, i, this.nodes);
  }

  private checkPlacement(opts: MeshOptions): void {
    if (this.parent.rank !== 0) return;
    const perNode = new Map<string, number>();
    for (const n of this.nodes) perNode.set(n, (perNode.get(n) ?? 0) + 1);
    const minPerNode = Math.min(...perNode.values());
    // A dimension could sit inside a node if it and every faster one fit there together.
    const fits = (i: number) => this.shape.slice(i).reduce((a, b) => a * b, 1) <= minPerNode;
    const spanning = this.dims.filter((d, i) => this.shape[i]! > 1 && fits(i) && !this.nodeLocal(d));
    if (spanning.length === 0) return;
    const msg = `zmpi: mesh { ${this.dims.map((d, i) => `${d}: ${this.shape[i]}`).join(", ")} }: ${spanning.join(", ")} group(s) span nodes although they would fit in one (${minPerNode} ranks per node); put the dimension that talks most last, and make ranks per node a multiple of it`;
    (opts.warn ?? ((m: string) => process.stderr.write(`${m}\n`)))(msg);
  }
}
