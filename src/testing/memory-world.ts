/**
 * `memoryWorld(n)`: n `World`s in one process over the in-memory transport, so code written against
 * `World` (its communicator calls, `log`, `results`, `farm`, `pool`, `metrics`, `finalize`) runs in
 * a unit test with no processes to start. Same engine, algorithms and matching as a real job; only
 * the wire is replaced. What needs separate processes (rendezvous, sockets, single-copy transfers,
 * a rank that crashes or is killed) needs `runJob`.
 */
import { hostname } from "node:os";
import type { Engine } from "../comm/engine.js";
import { checkEngineOptions } from "../comm/options.js";
import type { RankEnvironment } from "../env/types.js";
import { RankFailedError, UsageError } from "../errors.js";
import { memoryEngines } from "../groups/memory-world.js";
import { Logger, type LogLevel } from "../world/logger.js";
import { World, type WorldResources } from "../world/world.js";

/** Options of {@link memoryWorld} and {@link runInMemory}. */
export interface MemoryWorldOptions {
  /** Deadline of every wait, ms (default 30 s, so a test that deadlocks fails instead of hanging). */
  timeoutMs?: number;
  /** Eager limit, bytes (default 16 KiB, as in a real job). */
  eagerLimit?: number;
  /** Level of `world.log` (default `"info"`). */
  logLevel?: LogLevel;
  /** Where `world.log` lines go, `[rank] ` prefix included (default: stdout, and stderr for warn/error). */
  logWrite?: (line: string, stream: "out" | "err") => void;
}

function environment(rank: number, size: number, host: string): RankEnvironment {
  return {
    method: "memory",
    rank,
    size,
    localRank: rank,
    localSize: size,
    nodeIndex: 0,
    numNodes: 1,
    nodeName: host,
    hostname: host,
    nodeList: [host],
    tasksPerNode: [size],
    jobId: "memory",
    stepId: "0",
    cpusPerTask: null,
    coordinator: { host, port: 0, portSource: "none", runsHere: rank === 0 },
    bindAddress: null,
    warnings: [],
  };
}

function build(size: number, opts: MemoryWorldOptions): { worlds: World[]; engines: Engine[] } {
  if (!Number.isSafeInteger(size) || size < 1) throw new UsageError(`the world size must be a positive integer, got ${size}`, { op: "memoryWorld" });
  checkEngineOptions("memoryWorld", opts);
  const pairs = memoryEngines(size, opts);
  const host = hostname();
  // finalize() returns once every rank has called it, as in a real job.
  let arrived = 0;
  let release!: () => void;
  const everyone = new Promise<void>((r) => (release = r));
  const worlds = pairs.map(({ engine, ctx }, rank) => {
    engine.nodeName = host;
    const resources: WorldResources = {
      goodbye: () => {
        if (++arrived === size) release();
        return everyone;
      },
      close: () => engine.transport.close(),
    };
    return new World(engine, ctx, environment(rank, size, host), new Logger(rank, opts.logLevel ?? "info", true, opts.logWrite), resources);
  });
  return { worlds, engines: pairs.map((p) => p.engine) };
}

/**
 * `size` worlds (index = rank) connected in memory, in this process. Drive every rank at once, e.g.
 * with {@link runInMemory} or `Promise.all(worlds.map(...))`, and finalize each.
 *
 * ```ts
 * const worlds = memoryWorld(4);
 * const sums = await Promise.all(worlds.map(async (w) => {
 *   const s = await w.allreduce(new Float64Array([w.rank]), Op.SUM);
 *   await w.finalize();
 *   return s[0];
 * }));   // [6, 6, 6, 6]
 * ```
 */
export function memoryWorld(size: number, opts: MemoryWorldOptions = {}): World[] {
  return build(size, opts).worlds;
}

/**
 * Runs `body` on every rank of a fresh {@link memoryWorld}, finalizes each, and resolves with the
 * results by rank. When a rank throws, the other ranks' pending operations fail at once (as in a
 * real job, where the rank's death is spread) and the promise rejects with that rank's error.
 *
 * ```ts
 * const ranks = await runInMemory(3, async (world) => world.allgather(world.rank * 10));
 * // ranks[0] is [0, 10, 20]
 * ```
 */
export async function runInMemory<T>(size: number, body: (world: World) => T | Promise<T>, opts: MemoryWorldOptions = {}): Promise<T[]> {
  const { worlds, engines } = build(size, opts);
  let first: { rank: number; error: unknown } | null = null;
  const settled = await Promise.allSettled(
    worlds.map(async (world, rank) => {
      try {
        const value = await body(world);
        await world.finalize();
        return value;
      } catch (error) {
        if (first === null) {
          first = { rank, error };
          const why = error instanceof Error ? error.message : String(error);
          engines.forEach((e, r) => r !== rank && e.fail(new RankFailedError(`rank ${rank} failed: ${why}`, { ranks: [rank] })));
        }
        throw error;
      }
    }),
  );
  if (first !== null) throw (first as { error: unknown }).error;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}
