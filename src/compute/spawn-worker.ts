/**
 * Starts one pool worker, from compiled JS or from TypeScript sources.
 *
 * Built (`dist/src/compute/pool.js`): the entry is the compiled `worker.js` beside this file.
 * From sources (vitest, tsx): vite/tsx transform TS in *this* thread only, and Node 20 neither
 * runs `.ts` nor lets tsx's `--import` entry register its hooks in a worker, so the worker starts
 * from a tiny eval'd bootstrap that registers tsx's ESM hooks in the worker, then imports
 * `worker.ts`. tsx is a dev dependency; this path costs ~100 ms per worker start, only in dev.
 * (Users' TypeScript task modules are a separate matter, handled in the worker: ts-loader.ts.)
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { WorkerInit } from "./protocol.js";
import { tsxEntryUrl } from "./ts-loader.js";

const here = fileURLToPath(import.meta.url);
const fromSources = here.endsWith(".ts");

let bootstrap: string | undefined;

function tsBootstrap(entry: string): string {
  if (!bootstrap) {
    const api = tsxEntryUrl("./esm/api", [import.meta.url]);
    if (api === null) throw new Error(`the pool worker runs from zmpi's TypeScript sources (${entry}) and needs tsx, which is not installed`);
    bootstrap =
      `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(pathToFileURL(entry).href)}); })` +
      `.catch((e) => { setImmediate(() => { throw e; }); });`;
  }
  return bootstrap;
}

/** Spawn a worker running worker.ts/worker.js with `init` as its workerData. */
export function spawnWorker(init: WorkerInit): Worker {
  const dir = dirname(here);
  if (!fromSources) return new Worker(join(dir, "worker.js"), { workerData: init });
  const entry = join(dir, "worker.ts");
  if (!existsSync(entry)) throw new Error(`pool worker entry ${entry} not found`);
  return new Worker(tsBootstrap(entry), { eval: true, workerData: init });
}
