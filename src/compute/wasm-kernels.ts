/**
 * The WASM SIMD backend: typed arrays in, kernels in kernels.wasm on byte pointers.
 *
 * Arrays that already live in the compute memory (`pool.alloc`, or views the pool hands out)
 * are passed by pointer, with no copy. Other arrays are staged through regions of the compute
 * memory that are allocated once and reused: element-wise kernels stream through two 256 KiB
 * L2-sized stages chunk by chunk (so DRAM sees one read of each input and one write of the
 * output, and the kernel runs on cache-hot data); kernels whose result depends on the whole
 * array (fold, dot, gemm, transpose) copy into a scratch region that only grows.
 * No ArrayBuffer is allocated per call; staging creates a few small subarray views.
 */
import type { ComputeMemory } from "./memory.js";
import type { FloatArray, FoldOp, KernelArray, KernelBackend, ReduceOp } from "./types.js";
import type { KernelExports } from "./wasm-loader.js";

type Fn = (...args: number[]) => number | undefined;

/** Bytes per stage: two stages plus the kernel's working set stay inside a 1 MiB L2. */
const STAGE_BYTES = 256 * 1024;

function dtypeOf(x: KernelArray): "f64" | "f32" | "i32" {
  return x instanceof Float64Array ? "f64" : x instanceof Float32Array ? "f32" : "i32";
}

/** Same-type view of `len` elements at `ptr` (the stage or scratch region). */
function viewLike<T extends KernelArray>(like: T, mem: ComputeMemory, ptr: number, len: number): T {
  const ctor = like.constructor as new (b: ArrayBufferLike, o: number, l: number) => T;
  return new ctor(mem.buffer, ptr, len);
}

export class WasmKernels implements KernelBackend {
  readonly name = "wasm-simd" as const;
  private readonly fns: Record<string, Fn>;
  private stagePtr = 0;
  private scratchPtr = 0;
  private scratchBytes = 0;
  private workPtr: number;
  /** Bytes of GEMM workspace the kernels need (packed A and B panels plus an edge tile). */
  readonly gemmWorkspaceBytes: number;

  /**
   * @param exports kernels instantiated on `mem.memory`
   * @param mem the compute memory
   * @param workspacePtr GEMM workspace owned by the caller (workers get theirs from the pool);
   *   0 = allocate lazily from `mem` (main thread only).
   */
  constructor(
    exports: KernelExports,
    private readonly mem: ComputeMemory,
    workspacePtr = 0,
  ) {
    this.fns = exports as Record<string, Fn>;
    this.workPtr = workspacePtr;
    this.gemmWorkspaceBytes = Math.max(Number(this.fn("gemm_workspace_f32")()), Number(this.fn("gemm_workspace_f64")()));
  }

  private fn(name: string): Fn {
    const f = this.fns[name];
    if (typeof f !== "function") throw new Error(`kernels.wasm has no export ${name} (rebuild with npm run build:wasm)`);
    return f;
  }

  /** The GEMM K-slice depth compiled into the kernels (tests check it equals GEMM_KC). */
  gemmKc(dtype: "f32" | "f64"): number {
    return Number(this.fn(`gemm_kc_${dtype}`)());
  }

  private stages(): number {
    if (this.stagePtr === 0) this.stagePtr = this.mem.alloc(2 * STAGE_BYTES);
    return this.stagePtr;
  }

  private scratch(bytes: number): number {
    if (bytes > this.scratchBytes) {
      if (this.scratchPtr !== 0) this.mem.release(this.scratchPtr);
      this.scratchPtr = this.mem.alloc(bytes);
      this.scratchBytes = bytes;
    }
    return this.scratchPtr;
  }

  private workspace(): number {
    if (this.workPtr === 0) this.workPtr = this.mem.alloc(this.gemmWorkspaceBytes);
    return this.workPtr;
  }

  /**
   * Run an element-wise kernel over `d` (read and written) and `s` (read only, may be null).
   * kind 0: fn(d, s, n) reduce; kind 1: fn(alpha, s, d, n) axpy; kind 2: fn(alpha, d, n) scale.
   */
  private elementwise(f: Fn, kind: 0 | 1 | 2, alpha: number, d: KernelArray, s: KernelArray | null): void {
    const n = d.length;
    const es = d.BYTES_PER_ELEMENT;
    const dIn = this.mem.contains(d);
    const sIn = s === null || this.mem.contains(s);
    const call = (dp: number, sp: number, len: number): void => {
      if (kind === 0) f(dp, sp, len);
      else if (kind === 1) f(alpha, sp, dp, len);
      else f(alpha, dp, len);
    };
    if (dIn && sIn) {
      call(d.byteOffset, s === null ? 0 : s.byteOffset, n);
      return;
    }
    const base = this.stages();
    const chunk = STAGE_BYTES / es;
    const dStage = dIn ? null : viewLike(d, this.mem, base, chunk);
    const sStage = sIn || s === null ? null : viewLike(s, this.mem, base + STAGE_BYTES, chunk);
    for (let o = 0; o < n; o += chunk) {
      const len = Math.min(chunk, n - o);
      let dp = d.byteOffset + o * es;
      let sp = s === null ? 0 : s.byteOffset + o * es;
      if (dStage) {
        dStage.set(d.subarray(o, o + len));
        dp = base;
      }
      if (sStage && s) {
        sStage.set(s.subarray(o, o + len));
        sp = base + STAGE_BYTES;
      }
      call(dp, sp, len);
      if (dStage) d.set(len === chunk ? dStage : dStage.subarray(0, len), o);
    }
  }

  /** Pointers for read-only inputs: in place when they live in the memory, else copied to scratch. */
  private inputs(arrays: KernelArray[], extraBytes = 0): number[] {
    let need = extraBytes;
    for (const a of arrays) if (!this.mem.contains(a)) need += Math.ceil(a.byteLength / 64) * 64;
    let at = need > 0 ? this.scratch(need) : 0;
    const ptrs: number[] = [];
    for (const a of arrays) {
      if (this.mem.contains(a)) {
        ptrs.push(a.byteOffset);
      } else {
        viewLike(a, this.mem, at, a.length).set(a);
        ptrs.push(at);
        at += Math.ceil(a.byteLength / 64) * 64;
      }
    }
    ptrs.push(at); // start of the extra region
    return ptrs;
  }

  reduceInto(op: ReduceOp, dst: KernelArray, src: KernelArray): void {
    this.elementwise(this.fn(`reduce_${op}_${dtypeOf(dst)}`), 0, 0, dst, src);
  }

  fold(op: FoldOp, x: KernelArray): number {
    const f = this.fn(`fold_${op}_${dtypeOf(x)}`);
    const [p] = this.inputs([x]);
    return Number(f(p!, x.length));
  }

  dot(x: FloatArray, y: FloatArray): number {
    const f = this.fn(`dot_${dtypeOf(x)}`);
    const [px, py] = this.inputs([x, y]);
    return Number(f(px!, py!, x.length));
  }

  axpy(alpha: number, x: FloatArray, y: FloatArray): void {
    this.elementwise(this.fn(`axpy_${dtypeOf(y)}`), 1, alpha, y, x);
  }

  scale(alpha: number, x: FloatArray): void {
    this.elementwise(this.fn(`scale_${dtypeOf(x)}`), 2, alpha, x, null);
  }

  gemm(m: number, n: number, k: number, alpha: number, a: FloatArray, b: FloatArray, beta: number, c: FloatArray): void {
    const f = this.fn(`gemm_${dtypeOf(c)}`);
    const work = this.workspace();
    if (this.mem.contains(c)) {
      const [pa, pb] = this.inputs([a, b]);
      f(m, n, k, alpha, pa!, k, pb!, n, beta, c.byteOffset, n, work);
      return;
    }
    const [pa, pb, pc] = this.inputs([a, b], c.byteLength);
    const cv = viewLike(c, this.mem, pc!, c.length);
    if (beta !== 0) cv.set(c);
    f(m, n, k, alpha, pa!, k, pb!, n, beta, pc!, n, work);
    c.set(cv);
  }

  transpose(src: KernelArray, rows: number, cols: number, dst: KernelArray): void {
    const f = this.fn(src.BYTES_PER_ELEMENT === 8 ? "transpose_64" : "transpose_32");
    if (this.mem.contains(dst)) {
      const [ps] = this.inputs([src]);
      f(ps!, dst.byteOffset, rows, cols);
      return;
    }
    const [ps, pd] = this.inputs([src], dst.byteLength);
    f(ps!, pd!, rows, cols);
    dst.set(viewLike(dst, this.mem, pd!, dst.length));
  }
}
