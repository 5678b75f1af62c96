// --compare-anchors' live Open MPI runs: parsing mpi_bench.c's lines, the comparison with live
// stacks beside the stored ones, and a real mpirun of mpi_bench.c when Open MPI is on the machine.
import { describe, expect, it } from "vitest";
import { ANCHOR_STACKS, compareAnchors } from "../../launcher/bench/anchors.js";
import { LIVE_STACKS, liveAnchorsUnavailable, parseMpiBench, runLiveAnchors } from "../../launcher/bench/live-anchors.js";
import type { BenchRecord } from "../../launcher/bench/types.js";

const LINES = [
  '{"impl":"c","bench":"meta","np":4,"library":"Open MPI v4.1.4","target_s":0.05,"batches":11}',
  '{"impl":"c","bench":"allreduce","np":4,"bytes":8,"count":1,"iters":100,"batches":11,"median_us":20.5,"min_us":18,"mean_us":21}',
  "[vm:123] a warning mpirun printed",
  '{"impl":"c","bench":"barrier","np":4,"bytes":0,"iters":1000,"batches":11,"median_us":12.25,"min_us":11,"mean_us":13}',
  '{"impl":"c","bench":"bw","np',
].join("\n");

describe("live anchors", () => {
  it("parses mpi_bench.c's results into anchor rows of one stack and run, skipping meta and broken lines", () => {
    const rows = parseMpiBench(LINES, "live-c-tcp-np4", 1);
    expect(rows).toEqual([
      { impl: "c", bench: "allreduce", np: 4, bytes: 8, config: "live-c-tcp-np4", run: 1, median_us: 20.5, median_MBps: undefined },
      { impl: "c", bench: "barrier", np: 4, bytes: 0, config: "live-c-tcp-np4", run: 1, median_us: 12.25, median_MBps: undefined },
    ]);
  });

  it("compares zmpi with the median of the live runs, beside the stored stacks", () => {
    const live = [...parseMpiBench(LINES, LIVE_STACKS[0]!.config(4), 0), ...parseMpiBench(LINES.replace("12.25", "14.25"), LIVE_STACKS[0]!.config(4), 1)];
    const rec = { benchmark: "barrier", np: 4, size: 0, median_us: 26.5 } as BenchRecord;
    const rows = compareAnchors([rec], live, 4, [...LIVE_STACKS, ...ANCHOR_STACKS]);
    const barrier = rows.find((r) => r.label.startsWith("barrier"))!;
    expect(barrier.anchors.map((a) => a.stack)).toEqual([...LIVE_STACKS, ...ANCHOR_STACKS].map((s) => s.label));
    expect(barrier.anchors[0]).toEqual({ stack: "Open MPI TCP now", value: 13.25, ratio: 2 });
    expect(barrier.anchors[1]!.value).toBeNull(); // no shm run given
  });

  const why = liveAnchorsUnavailable();
  if (why) console.warn(`skipped the live mpirun test: ${why}`);
  it.skipIf(why !== null)(
    "runs mpi_bench.c under mpirun on 2 ranks over TCP and returns its collectives",
    async () => {
      const notes: string[] = [];
      const rows = await runLiveAnchors(2, 0, (l) => notes.push(l), { target: 0.002, batches: 3, transports: ["tcp"], timeoutSec: 120 });
      expect(notes).toEqual([]);
      for (const bench of ["pingpong", "allreduce", "bcast", "barrier"])
        expect(
          rows.some((r) => r.bench === bench && r.config === "live-c-tcp-np2" && (r.median_us ?? 0) > 0),
          bench,
        ).toBe(true);
    },
    150_000,
  );
});
