/**
 * The k-th smallest of non-negative doubles spread over the ranks, exactly, without moving them:
 * a radix select on the values' bit patterns (for x ≥ 0 the IEEE bits order like the numbers),
 * from the top: the 12 sign and exponent bits first (the values then left are within a factor of
 * two of the answer, a small share of them), then the 52 mantissa bits 13 at a time; each pass is
 * an allreduce of its histogram (5 passes, 32–64 KiB each). The answer is one of the values, bit
 * for bit, whatever the split over ranks: what makes SVGD's median bandwidth the same at 1 rank
 * and at 8. Measured on 1M distances here (one thread, loaded machine): ~25 ms with eight byte-wide
 * passes, ~19 ms with these five.
 */
import { Op } from "../collectives/op.js";
import { UsageError } from "../errors.js";
import type { Communicator } from "../groups/communicator.js";

/** Bits of each pass, from the top of the 64-bit pattern. */
const WIDTHS = [12, 13, 13, 13, 13] as const;

/** The bits of pass `pass` of the pattern (hi, lo). */
function digitOf(hi: number, lo: number, pass: number): number {
  switch (pass) {
    case 0:
      return hi >>> 20;
    case 1:
      return (hi >>> 7) & 0x1fff;
    case 2:
      return ((hi & 0x7f) << 6) | (lo >>> 26);
    case 3:
      return (lo >>> 13) & 0x1fff;
    default:
      return lo & 0x1fff;
  }
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
  for (const [pass, width] of WIDTHS.entries()) {
    const bins = 1 << width;
    const hist = new Float64Array(bins);
    for (let i = 0; i < n; i++) hist[digitOf(words[2 * i + 1]!, words[2 * i]!, pass)]!++;
    const total = comm.size > 1 ? await comm.allreduce(hist, Op.SUM) : hist;
    let b = 0;
    for (; b < bins && rest > total[b]!; b++) rest -= total[b]!;
    if (b === bins) throw new UsageError(`k = ${k} is more than the ${k - rest} values held`, { comm: comm.name, op: "selectKth" });
    chosen.push(b);
    if (hist[b] === n) continue; // every local value is still a candidate: nothing to drop
    // Keep only this digit's values for the next pass.
    let m = 0;
    const next = new Uint32Array(2 * hist[b]!); // this rank's count of them
    for (let i = 0; i < n; i++) {
      if (digitOf(words[2 * i + 1]!, words[2 * i]!, pass) === b) {
        next[2 * m] = words[2 * i]!;
        next[2 * m + 1] = words[2 * i + 1]!;
        m++;
      }
    }
    words = next;
    n = m;
  }
  const out = new Uint32Array(2);
  out[1] = ((chosen[0]! << 20) | (chosen[1]! << 7) | (chosen[2]! >>> 6)) >>> 0;
  out[0] = (((chosen[2]! & 0x3f) << 26) | (chosen[3]! << 13) | chosen[4]!) >>> 0;
  return new Float64Array(out.buffer)[0]!;
}
