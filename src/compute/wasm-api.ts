/**
 * The few WebAssembly JS-API types we use. The project compiles with lib ES2022 + @types/node,
 * which declare no WebAssembly globals (they live in lib.dom), and the tsconfig is not ours to
 * change, so this module types the global once instead of augmenting it for everyone.
 */

/** A WebAssembly.Memory; ours is always `shared: true`, so `buffer` is a SharedArrayBuffer. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(deltaPages: number): number;
}

/** A compiled WebAssembly.Module (opaque; cloneable to workers). */
export interface WasmModule {
  readonly __wasmModule?: never;
}

interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
  validate(bytes: Uint8Array): boolean;
}

/** The global WebAssembly object, or undefined on a runtime without it. */
export const wasmApi: WasmApi | undefined = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** The global WebAssembly object; throws where there is none. */
export function wasm(): WasmApi {
  if (!wasmApi) throw new Error("this runtime has no WebAssembly");
  return wasmApi;
}
