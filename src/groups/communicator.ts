/**
 * The full communicator users hold: point-to-point, collectives, and the operations that make new
 * communicators (split, subgroup, dup, splitByNode, mesh). Every new communicator gets a context id
 * all its members agree on, so its messages never meet another communicator's receives.
 */
import { CollectiveCommunicator } from "../collectives/collective-communicator.js";
import { UNDEFINED } from "../comm/matching.js";
import { UsageError } from "../errors.js";
import { Mesh, type MeshOptions } from "./mesh.js";
import { effectivePlacement, meshSpecFromEnv, type MeshEnvOptions } from "./mesh-env.js";

export { UNDEFINED };

/** A group of ranks with its own message space: point-to-point, collectives and splitting. */
export class Communicator extends CollectiveCommunicator {
  /**
   * Splits into one communicator per color (MPI semantics): ranks with the same `color` form a
   * group, ordered by `key` and then by rank here. `UNDEFINED` gives null. Collective.
   */
  async split(color: number, key: number = this.rank, name?: string): Promise<Communicator | null> {
    if (!Number.isInteger(color) || (color < 0 && color !== UNDEFINED))
      throw new UsageError(`split color must be a non-negative integer or UNDEFINED, got ${color}`, { comm: this.name, op: "split" });
    if (!Number.isInteger(key)) throw new UsageError(`split key must be an integer, got ${key}`, { comm: this.name, op: "split" });
    const all = await this.allgather([color, key, this.engine.maxContextId()]);
    const colors = [...new Set(all.map((x) => x[0]!).filter((c) => c !== UNDEFINED))].sort((a, b) => a - b);
    const base = Math.max(...all.map((x) => x[2]!)) + 1;
    this.engine.reserveContextIds(base + colors.length);
    if (color === UNDEFINED) return null;
    const members = all
      .map(([c, k], r) => ({ c: c!, k: k!, r }))
      .filter((m) => m.c === color)
      .sort((a, b) => a.k - b.k || a.r - b.r)
      .map((m) => this.group[m.r]!);
    const id = base + colors.indexOf(color);
    const ctx = this.engine.register(id, members, name ?? `${this.name}.split(${color})`);
    return new Communicator(this.engine, ctx);
  }

  /**
   * A communicator of the listed ranks of this one, in the order given. Collective over this
   * communicator: every rank calls it with the same list; ranks not listed get null.
   */
  async subgroup(ranks: readonly number[], name?: string): Promise<Communicator | null> {
    if (!Array.isArray(ranks) || ranks.length === 0) throw new UsageError("subgroup needs a non-empty list of ranks", { comm: this.name, op: "subgroup" });
    const seen = new Set<number>();
    for (const r of ranks) {
      this.checkRank(r, "subgroup", "rank");
      if (seen.has(r)) throw new UsageError(`subgroup lists rank ${r} twice`, { comm: this.name, op: "subgroup" });
      seen.add(r);
    }
    const at = ranks.indexOf(this.rank);
    return this.split(at < 0 ? UNDEFINED : 0, Math.max(at, 0), name ?? `${this.name}.subgroup([${ranks.join(",")}])`);
  }

  /** A copy with the same ranks and a separate message space. Collective. */
  async dup(name?: string): Promise<Communicator> {
    return (await this.split(0, this.rank, name ?? `${this.name}.dup()`))!;
  }

  /** The ranks of this communicator that share this rank's node. Collective. */
  async splitByNode(name?: string): Promise<Communicator> {
    const nodes = await this.allgather(this.engine.nodeName);
    const color = nodes.indexOf(this.engine.nodeName);
    return (await this.split(color, this.rank, name ?? `${this.name}.node(${this.engine.nodeName})`))!;
  }

  /**
   * Releases this communicator (MPI_Comm_free): its context leaves the engine, so nothing it held
   * stays behind. Local: each rank frees its own handle once it is done with it, after its last
   * operation on it (MPI's rule too). Operations still pending on it reject, messages nobody
   * received are dropped (counted in the engine's `dropped`), and every later call on it throws a
   * `UsageError` naming it. Freeing twice is harmless; the world cannot be freed (`finalize()` ends
   * it).
   *
   * @example
   * const sub = await world.dup();
   * await sub.allreduce(x, Op.SUM);
   * sub.free();
   */
  free(): void {
    if (this.freed) return;
    if (this.contextId === 0) throw new UsageError("the world communicator cannot be freed; finalize() ends it", { comm: this.name, op: "free" });
    this.engine.unregister(this.contextId);
  }

  /**
   * A named mesh over this communicator: dimensions slowest → fastest (row-major, like torch's
   * `init_device_mesh`), e.g. `mesh({ pp: 2, dp: 2, tp: 2 })`. Each dimension is a communicator.
   * One size may be -1 (inferred). Collective.
   *
   * `mesh("env")` takes the shape and placement from the job's environment (`ZMPI_MESH`,
   * `ZMPI_MESH_PLACEMENT`, set by `zmpi sbatch` from the job's config), with the config's rules:
   * the last dimension must sit inside nodes unless the placement says otherwise.
   *
   * ```ts
   * const mesh = await world.mesh<"pp" | "tp">("env");   // ZMPI_MESH=pp:2,tp:2
   * await mesh.tp.allreduce(partial, Op.SUM);
   * ```
   */
  async mesh<D extends string>(dims: Record<D, number> | "env", opts: MeshOptions & MeshEnvOptions = {}): Promise<Mesh<Communicator> & { readonly [K in D]: Communicator }> {
    let spec: Record<string, number>;
    let options: MeshOptions = opts;
    if (dims === "env") {
      const fromEnv = meshSpecFromEnv(opts);
      spec = fromEnv.shape;
      options = { ...opts, placement: effectivePlacement(Object.keys(spec), { ...fromEnv.placement, ...opts.placement }) };
    } else if (typeof dims === "string") {
      throw new UsageError(`mesh() takes a shape such as { pp: 2, tp: 2 } or "env", got "${dims}"`, { comm: this.name, op: "mesh" });
    } else spec = dims;
    return (await Mesh.create<Communicator>(this, spec, options)) as Mesh<Communicator> & { readonly [K in D]: Communicator };
  }
}
