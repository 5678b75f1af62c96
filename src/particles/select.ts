/**
 * The k-th smallest of non-negative doubles spread over the ranks, exactly, without moving them:
 * a radix select on the values' bit patterns (for x ≥ 0 the IEEE bits order like the numbers),
 * one byte per pass from the top, each pass an allreduce of a 256-bin histogram (8 passes, 2 KiB
 * each). The answer is one of the values, bit for bit, whatever the split over ranks: what makes
 * SVGD's median bandwidth the same at 1 rank and at 8.
 */
import { Op } from "../collectives/op.js";
import { UsageError } from "../errors.js";
import type { Communicator } from "../groups/communicator.js";

function byteOf(hi: number, lo: number, pass: number): number {
  return pass < 4 ? (hi >>> (24 - 8 * pass)) & 255 : (lo >>> (24 - 8 * (pass - 4))) & 255;
}

/**
 * Collective: the `k`-th smallest (1-based) of the union of every rank's `values` (all finite and
 * ≥ 0; `k` the same on every rank, 1 ≤ k ≤ total count).
 */
export async function selectKth(comm: Communicator, values: Float64Array, k: number): Promise<number> {
  if (!Number.isSafeInteger(k) || k < 1) throw new UsageError(`k must be a positive integer, got ${k}`, { comm: comm.name, op: "selectKth" });
  let words = new Uint32Array(values.buffer, values.byteOffset, values.length * 2);
  let n = values.length;
  let rest = k;
  const chosen: number[] = [];
  for (let pass = 0; pass < 8; pass++) {
    const hist = new Float64Array(256);
    for (let i = 0; i < n; i++) hist[byteOf(words[2 * i + 1]!, words[2 * i]!, pass)]!++;
    const total = comm.size > 1 ? await comm.allreduce(hist, Op.SUM) : hist;
    let b = 0;
    for (; b < 256 && rest > total[b]!; b++) rest -= total[b]!;
    if (b === 256) throw new UsageError(`k = ${k} is more than the ${k - rest} values held`, { comm: comm.name, op: "selectKth" });
    chosen.push(b);
    // Keep only this byte's values for the next pass.
    let m = 0;
    const next = new Uint32Array(2 * hist[b]!); // this rank's count of them
    for (let i = 0; i < n; i++) {
      if (byteOf(words[2 * i + 1]!, words[2 * i]!, pass) === b) {
        next[2 * m] = words[2 * i]!;
        next[2 * m + 1] = words[2 * i + 1]!;
        m++;
      }
    }
    words = next;
    n = m;
  }
  const out = new Uint32Array(2);
  out[1] = ((chosen[0]! << 24) | (chosen[1]! << 16) | (chosen[2]! << 8) | chosen[3]!) >>> 0;
  out[0] = ((chosen[4]! << 24) | (chosen[5]! << 16) | (chosen[6]! << 8) | chosen[7]!) >>> 0;
  return new Float64Array(out.buffer)[0]!;
}
