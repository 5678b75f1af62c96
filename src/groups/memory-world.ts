/**
 * A world of N communicators in one process over the in-memory transport: for running the
 * collective and group algorithms at 16–256 ranks in a unit test. Same engine, same algorithms,
 * same matching as the real thing; only the wire is replaced.
 */
import { DEFAULT_EAGER_LIMIT, Engine, type ContextState } from "../comm/engine.js";
import { MemoryNetwork } from "../transport/memory-transport.js";
import { Communicator } from "./communicator.js";

/** Options of {@link memoryWorld}. */
export interface MemoryWorldOptions {
  /** Deadline of every wait, ms (default 30 s). */
  timeoutMs?: number;
  /** Eager limit, bytes (default 16 KiB, as in a real job). */
  eagerLimit?: number;
  /** Pretend node of each rank (index = rank; equal numbers = same node), for node-aware collectives (default: one node). */
  nodes?: readonly number[];
}

/**
 * N engines (index = rank) connected in memory, each with its world context registered; a failure
 * on one spreads to the others, as the coordinator spreads it in a real job.
 */
export function memoryEngines(size: number, opts: MemoryWorldOptions = {}): { engine: Engine; ctx: ContextState }[] {
  const net = new MemoryNetwork(size);
  const engines = net.transports.map((t) => new Engine(t, { timeoutMs: opts.timeoutMs ?? 30_000, eagerLimit: opts.eagerLimit ?? DEFAULT_EAGER_LIMIT }));
  for (const e of engines) e.spread = (err) => engines.forEach((o) => o !== e && o.fail(err));
  if (opts.nodes) {
    if (opts.nodes.length !== size) throw new RangeError(`memoryWorld: nodes has ${opts.nodes.length} entries for ${size} ranks`);
    const names = opts.nodes.map((n) => `node${n}`);
    for (const e of engines) e.nodes = names;
  }
  const group = Array.from({ length: size }, (_, r) => r);
  return engines.map((engine) => ({ engine, ctx: engine.register(0, group, "world") }));
}

/** N world communicators (index = rank) connected in memory. */
export function memoryWorld(size: number, opts: MemoryWorldOptions = {}): Communicator[] {
  return memoryEngines(size, opts).map(({ engine, ctx }) => new Communicator(engine, ctx));
}
