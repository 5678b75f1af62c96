/**
 * Pool worker entry. Instantiates the kernels on the rank's shared memory (or uses the JS
 * kernels on views of it), then serves two kinds of tasks one at a time: kernel slices
 * (pointers into the shared memory) and user calls (module URL + export name: functions are
 * imported here, never serialised; a TypeScript module first gets a loader, see ts-loader.ts). A
 * user error is sent back with its stack; the worker lives on. Workers never open ZeroMQ sockets.
 */
import { parentPort, workerData } from "node:worker_threads";
import { jsKernels } from "./js-kernels.js";
import { ComputeMemory } from "./memory.js";
import type { FromWorker, KernelTask, ToWorker, WireError, WorkerInit } from "./protocol.js";
import { ensureTypeScript, isTypeScriptModule } from "./ts-loader.js";
import type { KernelArray, KernelBackend } from "./types.js";
import { instantiateKernels } from "./wasm-loader.js";
import { WasmKernels } from "./wasm-kernels.js";

const init = workerData as WorkerInit;
const port = parentPort!;
const mem = new ComputeMemory(init.memory);
const backend: KernelBackend = init.module ? new WasmKernels(instantiateKernels(init.module, init.memory), mem, init.workspace) : jsKernels;

type DtypeName = "f64" | "f32" | "i32";

function view(dtype: DtypeName, ptr: number, n: number): KernelArray {
  return dtype === "i32" ? new Int32Array(mem.buffer, ptr, n) : fview(dtype, ptr, n);
}

function fview(dtype: "f64" | "f32", ptr: number, n: number): Float64Array | Float32Array {
  return dtype === "f64" ? new Float64Array(mem.buffer, ptr, n) : new Float32Array(mem.buffer, ptr, n);
}

function runKernel(t: KernelTask): number | undefined {
  switch (t.kind) {
    case "reduce":
      backend.reduceInto(t.op, view(t.dtype, t.d, t.n), view(t.dtype, t.s, t.n));
      return undefined;
    case "fold":
      return backend.fold(t.op, view(t.dtype, t.p, t.n));
    case "dot":
      return backend.dot(fview(t.dtype, t.x, t.n), fview(t.dtype, t.y, t.n));
    case "axpy":
      backend.axpy(t.alpha, fview(t.dtype, t.x, t.n), fview(t.dtype, t.y, t.n));
      return undefined;
    case "scale":
      backend.scale(t.alpha, fview(t.dtype, t.x, t.n));
      return undefined;
    case "gemm": {
      backend.gemm(t.m, t.n, t.k, t.alpha, fview(t.dtype, t.a, t.m * t.k), fview(t.dtype, t.b, t.k * t.n), t.beta, fview(t.dtype, t.c, t.m * t.n));
      return undefined;
    }
  }
}

const modules = new Map<string, Promise<Record<string, unknown>>>();

async function load(url: string): Promise<Record<string, unknown>> {
  if (isTypeScriptModule(url)) await ensureTypeScript(url);
  return (await import(url)) as Record<string, unknown>;
}

async function callUser(url: string, name: string, arg: unknown): Promise<unknown> {
  let mod = modules.get(url);
  if (!mod) {
    mod = load(url);
    modules.set(url, mod);
    mod.catch(() => modules.delete(url)); // a failed import may succeed later (file written after)
  }
  const fn = (await mod)[name];
  if (typeof fn !== "function") {
    throw new TypeError(`${url} has no exported function ${JSON.stringify(name)} (found ${typeof fn})`);
  }
  return await (fn as (a: unknown) => unknown)(arg);
}

function wire(e: unknown): WireError {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: "Error", message: `non-Error thrown: ${String(e)}`, stack: undefined };
}

function reply(msg: FromWorker): void {
  try {
    port.postMessage(msg);
  } catch (e) {
    // The result could not be cloned (a function, a class instance with private state…).
    if (msg.t === "ok") port.postMessage({ t: "err", id: msg.id, error: wire(e) } satisfies FromWorker);
    else throw e;
  }
}

port.on("message", (msg: ToWorker) => {
  if (msg.t === "kernel") {
    try {
      reply({ t: "ok", id: msg.id, value: runKernel(msg.task) });
    } catch (e) {
      reply({ t: "err", id: msg.id, error: wire(e) });
    }
    return;
  }
  callUser(msg.url, msg.name, msg.arg).then(
    (value) => reply({ t: "ok", id: msg.id, value }),
    (e: unknown) => reply({ t: "err", id: msg.id, error: wire(e) }),
  );
});

port.postMessage({ t: "ready" } satisfies FromWorker);
