/**
 * Runs a chunk of `pool.map` items inside one pool worker: imports the user's module (cached by
 * the module loader) and calls its export on each item in turn. One message per chunk instead of
 * one per item, which is what `chunkSize` buys when items are small.
 */

/** What the pool sends for one chunk. */
export interface ChunkTask {
  url: string;
  name: string;
  items: unknown[];
}

/** Calls `name` of `url` on each item, in order; results in item order. */
export async function runChunk(task: ChunkTask): Promise<unknown[]> {
  const mod = (await import(task.url)) as Record<string, unknown>;
  const fn = mod[task.name];
  if (typeof fn !== "function") throw new TypeError(`${task.url} has no exported function ${JSON.stringify(task.name)} (found ${typeof fn})`);
  const out: unknown[] = [];
  for (const item of task.items) out.push(await (fn as (a: unknown) => unknown)(item));
  return out;
}
