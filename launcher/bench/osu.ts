/**
 * The rank-side benchmark program, started on every rank by the bench driver through `launch()`.
 * It reads the plan from `ZMPI_BENCH_PLAN` (JSON, see plan.ts), runs it, and rank 0 prints one
 * JSON event per line after {@link LINE_MARK} for the driver to tabulate.
 *
 * Point-to-point runs between ranks 0 and 1 (other ranks wait at the barrier that ends each
 * benchmark). For every size the zmpi loop and the bare zeromq.js loop run back to back in the
 * same two processes, so both see the same moment of this noisy VM.
 */
import { performance } from "node:perf_hooks";
import * as zmpi from "../../src/index.js";
import { splitBatches, type BenchPlan, type BenchmarkName, type PlanStep } from "./plan.js";
import { RawPair } from "./raw-zmq.js";
import { batchTiming, collectiveTiming, fromBatches, mbps } from "./stats.js";
import { LINE_MARK, type BenchEvent, type BenchRecord, type Timing } from "./types.js";

type World = Awaited<ReturnType<typeof zmpi.init>>;

const TAG_DATA = 1;
const TAG_ACK = 2;
const TAG_TIMES = 3;
const TAG_ENDPOINT = 4;

/** What the collective benchmarks call (buffer style, like OSU: preallocated receive buffers). */
interface MaybeCollectives {
  allreduce?: (data: Float64Array, op: unknown, opts?: { out?: Float64Array }) => Promise<unknown>;
  reduce?: (data: Float64Array, op: unknown, root: number, opts?: { out?: Float64Array }) => Promise<unknown>;
  bcast?: (data: Float64Array | undefined, root: number) => Promise<unknown>;
  allgather?: (data: Float64Array, opts?: { out?: Float64Array }) => Promise<unknown>;
  alltoall?: (items: Float64Array, opts?: { out?: Float64Array }) => Promise<unknown>;
}

function emit(world: World, ev: BenchEvent): void {
  if (world.rank === 0) process.stdout.write(`${LINE_MARK + JSON.stringify(ev)}\n`);
}

/** Runs `fn(n)` once per batch and returns each batch's elapsed µs. */
async function timeBatches(counts: number[], fn: (n: number) => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (const n of counts) {
    const t0 = performance.now();
    await fn(n);
    out.push((performance.now() - t0) * 1000);
  }
  return out;
}

/** A payload of `size` bytes, filled so nothing is a lazily zeroed page at send time. */
function payload(size: number): Uint8Array {
  return new Uint8Array(size).fill(0xa5);
}

/**
 * zmpi ping-pong, OSU osu_latency: blocking send then receive, the peer mirrors it. As in OSU,
 * each rank receives into its own buffer, allocated once (`rbuf`).
 */
async function zmpiPingPong(world: World, buf: Uint8Array, rbuf: Uint8Array, n: number): Promise<void> {
  const peer = 1 - world.rank;
  const into = { source: peer, tag: TAG_DATA, out: rbuf };
  for (let i = 0; i < n; i++) {
    if (world.rank === 0) {
      await world.send(buf, peer, { tag: TAG_DATA });
      await world.recv(into);
    } else {
      await world.recv(into);
      await world.send(buf, peer, { tag: TAG_DATA });
    }
  }
}

/** zmpi OSU osu_bw: `window` isends, waitAll, then the receiver's small ack; receives land in `rbuf`, as OSU's do. */
async function zmpiBw(world: World, buf: Uint8Array, rbuf: Uint8Array, window: number, n: number, ack: Uint8Array): Promise<void> {
  const peer = 1 - world.rank;
  for (let i = 0; i < n; i++) {
    if (world.rank === 0) {
      const reqs: zmpi.Request<void>[] = [];
      for (let j = 0; j < window; j++) reqs.push(world.isend(buf, peer, { tag: TAG_DATA }));
      await zmpi.waitAll(reqs);
      await world.recv({ source: peer, tag: TAG_ACK });
    } else {
      const reqs: zmpi.Request<unknown>[] = [];
      for (let j = 0; j < window; j++) reqs.push(world.irecv({ source: peer, tag: TAG_DATA, out: rbuf }));
      await zmpi.waitAll(reqs);
      await world.send(ack, peer, { tag: TAG_ACK });
    }
  }
}

/** One p2p step for one stack: warm-up, then timed batches (rank 0's clock, like OSU). */
async function measure(step: PlanStep, batches: number, per: number, run: (n: number) => Promise<void>): Promise<Timing> {
  await run(step.warmup);
  const counts = splitBatches(step.iterations, batches);
  return fromBatches(await timeBatches(counts, run), counts, per);
}

async function runP2p(world: World, name: "latency" | "bw", steps: PlanStep[], plan: BenchPlan, raw: RawPair | null): Promise<void> {
  if (world.size < 2) {
    emit(world, { type: "skip", benchmark: name, reason: "needs at least 2 ranks" });
    return;
  }
  emit(world, { type: "begin", benchmark: name, np: world.size, raw: raw !== null, singleCopy: world.singleCopyPeers().includes(1 - world.rank) });
  if (world.rank <= 1) {
    const ack = new Uint8Array(4);
    for (const [index, step] of steps.entries()) {
      const buf = payload(step.size);
      const rbuf = payload(step.size);
      const window = step.window ?? 1;
      // Ping-pong: each iteration is a full round trip, reported as half of it.
      const per = name === "latency" ? 2 : window;
      const zmpiRun = name === "latency" ? (n: number) => zmpiPingPong(world, buf, rbuf, n) : (n: number) => zmpiBw(world, buf, rbuf, window, n, ack);
      let mine: Timing;
      let rawT: Timing | undefined;
      if (raw) {
        const init = world.rank === 0;
        const rawRun = name === "latency" ? (n: number) => raw.pingPong(buf, n, init) : (n: number) => raw.bw(buf, window, n, init, ack);
        // Alternate which stack goes first, so neither always inherits the other's warm (or dirty) state.
        if (index % 2 === 0) {
          mine = await measure(step, plan.batches, per, zmpiRun);
          rawT = await measure(step, plan.batches, per, rawRun);
        } else {
          rawT = await measure(step, plan.batches, per, rawRun);
          mine = await measure(step, plan.batches, per, zmpiRun);
        }
      } else {
        mine = await measure(step, plan.batches, per, zmpiRun);
      }
      if (world.rank === 0) {
        const rec: BenchRecord = { benchmark: name, np: world.size, size: step.size, warmup: step.warmup, ...mine };
        if (name === "bw") {
          rec.window = window;
          rec.mbps = mbps(step.size, mine.avg_us);
          if (rawT) rawT.mbps = mbps(step.size, rawT.avg_us);
        }
        if (rawT) {
          rec.raw = rawT;
          rec.ratio = mine.avg_us / rawT.avg_us;
        }
        emit(world, { type: "row", record: rec });
      }
    }
  }
  await world.barrier();
  emit(world, { type: "end", benchmark: name });
}

/** The call a collective benchmark times, or why it cannot run in this build. */
function collectiveCall(world: World, name: BenchmarkName, size: number): (() => Promise<unknown>) | string {
  const c = world as unknown as MaybeCollectives;
  const Op = (zmpi as unknown as Record<string, { SUM?: unknown } | undefined>).Op;
  const n = Math.floor(size / 8);
  const needsOp = name === "allreduce" || name === "reduce";
  if (name !== "barrier" && typeof (c as Record<string, unknown>)[name] !== "function") return "not implemented in this build";
  if (needsOp && Op?.SUM === undefined) return "Op.SUM is not exported in this build";
  switch (name) {
    case "barrier":
      return () => world.barrier();
    // Buffer style, as OSU and MPI: every rank owns its send and receive buffers, allocated once,
    // so the timing is the collective's, not the first touch of a fresh result array.
    case "allreduce": {
      const data = new Float64Array(n).fill(1);
      const out = new Float64Array(n);
      return () => c.allreduce!(data, Op!.SUM, { out });
    }
    case "reduce": {
      const data = new Float64Array(n).fill(1);
      const out = new Float64Array(n);
      return () => c.reduce!(data, Op!.SUM, 0, { out });
    }
    case "bcast": {
      const data = new Float64Array(n).fill(world.rank === 0 ? 1 : 0);
      return () => c.bcast!(data, 0);
    }
    case "allgather": {
      const data = new Float64Array(n).fill(1);
      const out = new Float64Array(n * world.size);
      return () => c.allgather!(data, { out });
    }
    case "alltoall": {
      // OSU alltoall: `size` bytes to every rank, including this one.
      const items = new Float64Array(n * world.size).fill(1);
      const out = new Float64Array(n * world.size);
      return () => c.alltoall!(items, { out });
    }
    default:
      return `unknown collective ${name}`;
  }
}

/**
 * osu_allreduce style: every rank times each call, with a barrier between calls (outside the
 * timing) so one call's stragglers do not leak into the next; rank 0 gathers the per-call times.
 */
async function runCollective(world: World, name: BenchmarkName, steps: PlanStep[], plan: BenchPlan): Promise<void> {
  // Decide skip from the build, not from a size: every rank sees the same build, so all skip together.
  const probe = collectiveCall(world, name, 8);
  if (typeof probe === "string") {
    emit(world, { type: "skip", benchmark: name, reason: probe });
    return;
  }
  const timing = plan.timing ?? "batch";
  emit(world, { type: "begin", benchmark: name, np: world.size, raw: false, timing });
  for (const step of steps) {
    const call = collectiveCall(world, name, step.size) as () => Promise<unknown>;
    for (let i = 0; i < step.warmup; i++) await call();
    const counts = splitBatches(step.iterations, plan.batches);
    let times: Float64Array;
    if (timing === "osu") {
      times = new Float64Array(step.iterations);
      for (let i = 0; i < step.iterations; i++) {
        // barrier is its own synchronisation; the others get one in between, as OSU does.
        if (name !== "barrier") await world.barrier();
        const t0 = performance.now();
        await call();
        times[i] = (performance.now() - t0) * 1000;
      }
    } else {
      // As the anchors' mpi_bench.c: a barrier, then a batch of calls back to back.
      times = new Float64Array(counts.length);
      for (const [k, n] of counts.entries()) {
        await world.barrier();
        const t0 = performance.now();
        for (let i = 0; i < n; i++) await call();
        times[k] = (performance.now() - t0) * 1000;
      }
    }
    if (world.rank === 0) {
      const perRank: number[][] = [Array.from(times)];
      for (let r = 1; r < world.size; r++) perRank.push(Array.from(await world.recv<Float64Array>({ source: r, tag: TAG_TIMES })));
      const t = timing === "osu" ? collectiveTiming(perRank, plan.batches) : batchTiming(perRank, counts);
      const rec: BenchRecord = { benchmark: name, np: world.size, size: step.size, warmup: step.warmup, ...t };
      if (name !== "barrier") rec.mbps = mbps(step.size, t.avg_us);
      emit(world, { type: "row", record: rec });
    } else {
      await world.send(times, 0, { tag: TAG_TIMES });
    }
  }
  await world.barrier();
  emit(world, { type: "end", benchmark: name });
}

/** Opens the bare zeromq.js pair between ranks 0 and 1, swapping endpoints over zmpi. */
async function openRaw(world: World, plan: BenchPlan): Promise<RawPair | null> {
  const wantsRaw = plan.raw && world.size >= 2 && plan.benchmarks.some((b) => b.name === "latency" || b.name === "bw");
  if (!wantsRaw || world.rank > 1) return null;
  const peer = 1 - world.rank;
  return RawPair.open(world.rank === 0, plan.rawTransport, async (mine) => {
    const got = world.recv<string>({ source: peer, tag: TAG_ENDPOINT });
    await world.send(mine, peer, { tag: TAG_ENDPOINT });
    return got;
  });
}

/**
 * Untimed traffic of every kind the suite times, on zmpi and on the raw pair, until rank 0's clock
 * says `ms` have passed: V8 optimizes the message path only after a few thousand messages (see
 * DEFAULT_JIT_WARMUP_S in plan.ts), and the tables should show the steady state.
 */
async function jitWarmup(world: World, raw: RawPair | null, ms: number): Promise<void> {
  if (ms <= 0) return;
  const Op = (zmpi as unknown as Record<string, { SUM?: unknown } | undefined>).Op;
  const c = world as unknown as MaybeCollectives;
  const x = new Float64Array(1);
  const out = new Float64Array(1);
  const small = payload(8);
  const rsmall = payload(8);
  const until = performance.now() + ms;
  for (;;) {
    const go = await world.bcast(world.rank === 0 ? performance.now() < until : undefined, 0);
    if (!go) break;
    if (world.size >= 2 && world.rank <= 1) {
      await zmpiPingPong(world, small, rsmall, 100);
      if (raw) await raw.pingPong(small, 100, world.rank === 0);
    }
    for (let i = 0; i < 100; i++) {
      await world.barrier();
      if (c.allreduce && Op?.SUM !== undefined) await c.allreduce(x, Op.SUM, { out });
    }
  }
}

async function main(): Promise<void> {
  const text = process.env.ZMPI_BENCH_PLAN;
  if (!text) throw new Error("ZMPI_BENCH_PLAN is not set: run this through `zmpi bench` / `npm run bench`");
  const plan = JSON.parse(text) as BenchPlan;
  const world = await zmpi.init();
  const raw = await openRaw(world, plan);
  try {
    await jitWarmup(world, raw, plan.jitWarmupMs ?? 0);
    for (const b of plan.benchmarks) {
      if (b.name === "latency" || b.name === "bw") await runP2p(world, b.name, b.steps, plan, raw);
      else await runCollective(world, b.name, b.steps, plan);
    }
  } finally {
    raw?.close();
  }
  await world.finalize();
}

await main();
