/**
 * Moving every rank's rows to rank 0 without rank 0 holding them all: rank 0 takes the ranks in
 * order (its own rows first, then rank 1's, then rank 2's, …), and a rank sends a chunk only when
 * rank 0 has granted it a credit. At most `window` chunks are in flight at any time, so rank 0's
 * memory is bounded by the window, not by the table; file order is rank order, then append order.
 */
import type { Communicator } from "../groups/communicator.js";
import type { Row } from "./schema.js";

/** Credits from rank 0 to a sender. */
const TAG_CREDIT = 1;
/** Chunks from a sender to rank 0. */
const TAG_CHUNK = 2;

/** How to cut and pace the stream. */
export interface StreamOptions {
  /** Rows per chunk. */
  chunkRows: number;
  /** Chunks in flight per sender. */
  window: number;
  /** Deadline of each wait, ms (default: the communicator's). */
  timeoutMs?: number;
}

/** Number of chunks `n` rows make. */
function chunkCount(n: number, chunkRows: number): number {
  return Math.ceil(n / chunkRows);
}

/**
 * Sends this rank's rows to rank 0 (non-root side). `encode` turns a slice of rows into what travels
 * (bytes of text, or a columnar object), so the encoding work is spread over the ranks.
 */
export async function sendRows<C>(comm: Communicator, rows: readonly Row[], opts: StreamOptions, encode: (rows: readonly Row[]) => C): Promise<void> {
  const n = chunkCount(rows.length, opts.chunkRows);
  for (let i = 0; i < n; i++) {
    await comm.recv({ source: 0, tag: TAG_CREDIT, timeoutMs: opts.timeoutMs });
    const slice = rows.slice(i * opts.chunkRows, (i + 1) * opts.chunkRows);
    await comm.send(encode(slice), 0, { tag: TAG_CHUNK, timeoutMs: opts.timeoutMs });
  }
}

/**
 * Receives every rank's rows on rank 0, in rank order, calling `write(chunk, source)` for each chunk
 * as it arrives. Rank 0's own rows go through `encode` locally. `counts[r]` is rank r's row count.
 */
export async function receiveRows<C>(
  comm: Communicator,
  ownRows: readonly Row[],
  counts: readonly number[],
  opts: StreamOptions,
  encode: (rows: readonly Row[]) => C,
  write: (chunk: C, source: number) => void,
): Promise<void> {
  for (let i = 0; i < ownRows.length; i += opts.chunkRows) write(encode(ownRows.slice(i, i + opts.chunkRows)), 0);
  for (let r = 1; r < comm.size; r++) {
    const n = chunkCount(counts[r] ?? 0, opts.chunkRows);
    const credit = () => comm.send(0, r, { tag: TAG_CREDIT, timeoutMs: opts.timeoutMs });
    for (let i = 0; i < Math.min(opts.window, n); i++) await credit();
    for (let i = 0; i < n; i++) {
      const chunk = await comm.recv<C>({ source: r, tag: TAG_CHUNK, timeoutMs: opts.timeoutMs });
      if (i + opts.window < n) await credit();
      write(chunk, r);
    }
  }
}
