/**
 * The compute memory: one shared `WebAssembly.Memory` per thread that owns it (the rank's main
 * thread), with a small first-fit allocator. The pool's workers instantiate the kernels on this
 * same memory, and arrays allocated here (`pool.alloc`) are handed to kernels by pointer, with no copy.
 *
 * Shared memories never detach on grow: views made before a `grow()` stay valid (they just see
 * the older, shorter SharedArrayBuffer object), so allocated arrays survive growth. Every buffer
 * object we hand out is remembered, so `contains()` recognises views of any generation.
 */
import { UsageError } from "../errors.js";
import { wasm, type WasmMemory } from "./wasm-api.js";

const PAGE = 65536;
/** 4 GiB: the wasm32 limit; only address space is reserved up front, pages are committed on grow. */
const MAX_PAGES = 65536;
/** Allocation granularity: a cache line, and a multiple of every v128 and element size. */
const ALIGN = 64;
/** The first page is never handed out, so pointer 0 means "none". */
const BASE = PAGE;

/** Typed array constructors that can live in the compute memory (Float64Array, Int32Array, …). */
export type TypedArrayConstructor<T = ArrayBufferView> = {
  new (buffer: SharedArrayBuffer, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
};

/** The array type a {@link TypedArrayConstructor} makes (works for unions of constructors too). */
export type InstanceOf<C> = C extends { new (buffer: SharedArrayBuffer, byteOffset: number, length: number): infer T } ? T : never;

interface Block {
  ptr: number;
  bytes: number;
}

/** A shared WebAssembly.Memory plus an allocator over it. */
export class ComputeMemory {
  /** The shared memory (its `.buffer` is a SharedArrayBuffer). */
  readonly memory: WasmMemory;
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  /** Free blocks sorted by address; the region past `top` is free too. */
  private readonly free: Block[] = [];
  private readonly used = new Map<number, number>();
  private top = BASE;

  /** Wrap `memory` (created when omitted). Workers wrap the memory they were posted and never allocate. */
  constructor(memory?: WasmMemory) {
    this.memory = memory ?? new (wasm().Memory)({ initial: 32, maximum: MAX_PAGES, shared: true });
    this.buffers.add(this.memory.buffer);
  }

  /** The current buffer (re-read after growth). */
  get buffer(): SharedArrayBuffer {
    const b = this.memory.buffer as unknown as SharedArrayBuffer;
    this.buffers.add(b);
    return b;
  }

  /** Bytes currently handed out. */
  get allocatedBytes(): number {
    let s = 0;
    for (const b of this.used.values()) s += b;
    return s;
  }

  /** True when `view` is a view of this memory (so kernels can use it in place). */
  contains(view: ArrayBufferView): boolean {
    return this.buffers.has(view.buffer);
  }

  /** Allocate `bytes` (rounded up to 64) and return the pointer; grows the memory when needed. */
  alloc(bytes: number): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new UsageError(`cannot allocate ${bytes} bytes`, { op: "alloc" });
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (let i = 0; i < this.free.length; i++) {
      const f = this.free[i]!;
      if (f.bytes >= size) {
        const ptr = f.ptr;
        if (f.bytes === size) this.free.splice(i, 1);
        else {
          f.ptr += size;
          f.bytes -= size;
        }
        this.used.set(ptr, size);
        return ptr;
      }
    }
    const ptr = this.top;
    const end = ptr + size;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      // Grow by at least 1/8 of the current size, so a sequence of growing requests stays O(log n) grows.
      const need = Math.ceil((end - have) / PAGE);
      const pages = Math.min(MAX_PAGES - have / PAGE, Math.max(need, Math.ceil(have / PAGE / 8)));
      if (pages < need) {
        throw new UsageError(`compute memory exhausted: ${bytes} bytes requested, ${this.allocatedBytes} in use, limit 4 GiB`, { op: "alloc" });
      }
      this.memory.grow(pages);
      this.buffers.add(this.memory.buffer);
    }
    this.top = end;
    this.used.set(ptr, size);
    return ptr;
  }

  /** Return a block from {@link alloc}. Freeing an unknown pointer throws. */
  release(ptr: number): void {
    const size = this.used.get(ptr);
    if (size === undefined) throw new UsageError(`pointer ${ptr} was not allocated here (or was already freed)`, { op: "free" });
    this.used.delete(ptr);
    // Insert sorted, then coalesce with neighbours; a block touching `top` gives its space back to it.
    let i = 0;
    while (i < this.free.length && this.free[i]!.ptr < ptr) i++;
    this.free.splice(i, 0, { ptr, bytes: size });
    if (i + 1 < this.free.length && ptr + size === this.free[i + 1]!.ptr) {
      this.free[i]!.bytes += this.free[i + 1]!.bytes;
      this.free.splice(i + 1, 1);
    }
    if (i > 0 && this.free[i - 1]!.ptr + this.free[i - 1]!.bytes === ptr) {
      this.free[i - 1]!.bytes += this.free[i]!.bytes;
      this.free.splice(i, 1);
      i--;
    }
    const last = this.free[this.free.length - 1];
    if (last && last.ptr + last.bytes === this.top) {
      this.top = last.ptr;
      this.free.pop();
    }
  }

  /** A typed-array view of `length` elements at `ptr`. */
  view<C extends TypedArrayConstructor>(ctor: C, ptr: number, length: number): InstanceOf<C> {
    return new ctor(this.buffer, ptr, length) as InstanceOf<C>;
  }

  /** Allocate a zero-filled typed array of `length` elements in this memory. */
  allocArray<C extends TypedArrayConstructor>(ctor: C, length: number): InstanceOf<C> {
    const bytes = length * ctor.BYTES_PER_ELEMENT;
    const ptr = this.alloc(bytes);
    const v = this.view(ctor, ptr, length);
    // Freed blocks are reused, so clear them: callers get the same zeroed array as `new Float64Array(n)`.
    new Uint8Array(this.buffer, ptr, bytes).fill(0);
    return v;
  }

  /** Free an array from {@link allocArray}. */
  freeArray(view: ArrayBufferView): void {
    if (!this.contains(view)) throw new UsageError("this array was not allocated in the compute memory", { op: "free" });
    this.release(view.byteOffset);
  }
}

let shared: ComputeMemory | undefined;

/** This thread's compute memory, created on first use. Kernels and every pool of the thread share it. */
export function computeMemory(): ComputeMemory {
  shared ??= new ComputeMemory();
  return shared;
}
