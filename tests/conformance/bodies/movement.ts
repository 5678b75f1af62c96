/**
 * bcast, gather, allgather, scatter and alltoall of typed arrays: every type (-0, NaN and ±∞
 * included: data movement is bit-exact), every root, sizes 0/1/odd, both sides of every threshold,
 * every algorithm forced, new / `out` / in-place results (in-place alltoall is issue 9's defect 2),
 * blocking and `i…` forms, bcast's three ways of receiving (undefined, a receive buffer, `out`:
 * undefined with a large array is defect 3), and C1's rule that results never alias inputs.
 * Ported from mpi4py's test_cco_buf (testBcast, testGather, testScatter, testAllgather,
 * testAlltoall and the Inplace class) and test_cco_nb_buf.
 */
import type { OutOptions, TypedArray } from "../../../src/index.js";
import { F64, MOVABLE, moveData, moveRef, type Dtype } from "../data.js";
import type { Ctx, Group } from "../plan.js";
import { pick, range } from "../plan.js";
import { BCAST_MIN_RANKS, sides, thresholdsFor } from "../thresholds.js";
import {
  affordable,
  algOpts,
  algorithms,
  applies,
  thresholdAlgorithms,
  checkTyped,
  join,
  MODES,
  snapshot,
  sentinel,
  smallSizes,
  via,
  VIAS,
  type Mode,
  type Via,
} from "./common.js";
import { objAlltoall, objBcast, objGather, objScatter } from "./objects.js";

/** How a bcast non-root receives: nothing passed, a receive buffer as `data`, or `out`. */
type Receive = "undefined" | "buffer" | "out";
const RECEIVES: readonly Receive[] = ["undefined", "buffer", "out"];

async function bcastCase(x: Ctx, d: Dtype, n: number, root: number, recv: Receive, alg: string | null, how: Via, label = ""): Promise<void> {
  const { comm } = x;
  const name = `bcast ${d.name} n=${n} root=${root} non-roots pass ${recv} alg=${alg ?? "auto"} ${how}${label ? ` (${label})` : ""}`;
  await x.run(name, async (t) => {
    const isRoot = comm.rank === root;
    const want = moveRef(d, n, root, n);
    const data = isRoot ? moveData(d, n, root, n) : recv === "buffer" ? sentinel(d, n) : undefined;
    const out = !isRoot && recv === "out" ? sentinel(d, n + 2) : undefined;
    const opts = { ...algOpts(alg), ...(out ? { out } : {}) };
    const result = await via(
      how,
      () => comm.bcast(data, root, opts),
      () => comm.ibcast(data, root, opts),
    );
    if (isRoot) checkTyped(t, "root", d, "new", result, want, data, want, undefined);
    else if (recv === "buffer") checkTyped(t, "non-root receive buffer", d, "inplace", result, want, undefined, undefined, data);
    else checkTyped(t, "result", d, out ? "out" : "new", result, want, undefined, undefined, out);
  });
}

/** Expected gather result: every rank's block in order. */
const gathered = (d: Dtype, k: number, p: number, salt: number) =>
  join(
    d,
    range(p).map((r) => moveRef(d, k, r, salt)),
  );

async function gatherCase(x: Ctx, all: boolean, d: Dtype, k: number, root: number, mode: Mode, alg: string | null, how: Via, label = ""): Promise<void> {
  const { comm } = x;
  const p = comm.size;
  const coll = all ? "allgather" : "gather";
  await x.run(`${coll} ${d.name} k=${k}${all ? "" : ` root=${root}`} alg=${alg ?? "auto"} ${mode} ${how}${label ? ` (${label})` : ""}`, async (t) => {
    const salt = k + 1;
    const receives = all || comm.rank === root;
    let data = moveData(d, k, comm.rank, salt);
    let out: TypedArray | undefined;
    if (receives && mode === "out") out = sentinel(d, k * p + 2);
    if (receives && mode === "inplace") {
      // MPI_IN_PLACE: this rank's block already sits in the result buffer.
      out = sentinel(d, k * p);
      (out as unknown as { set(a: TypedArray, o: number): void }).set(data, comm.rank * k);
      data = out.subarray(comm.rank * k, comm.rank * k + k);
    }
    const before = snapshot(data);
    const opts = { ...algOpts(alg), ...(out ? { out } : {}) };
    const result = all
      ? await via(
          how,
          () => comm.allgather(data, opts),
          () => comm.iallgather(data, opts),
        )
      : await via(
          how,
          () => comm.gather(data, root, opts),
          () => comm.igather(data, root, opts),
        );
    if (!receives) {
      t.ok(result === undefined, `gather on a non-root must give undefined, got ${typeof result}`);
      return;
    }
    checkTyped(t, "result", d, mode === "inplace" ? "inplace" : out ? "out" : "new", result, gathered(d, k, p, salt), data, before, out);
  });
}

/** Block j of the root's scatter data identifies its destination j. */
async function scatterCase(x: Ctx, d: Dtype, k: number, root: number, mode: Mode, how: Via): Promise<void> {
  const { comm } = x;
  const p = comm.size;
  await x.run(`scatter ${d.name} k=${k} root=${root} ${mode} ${how}`, async (t) => {
    const salt = k + 3;
    const isRoot = comm.rank === root;
    const blocks = range(p).map((j) => moveRef(d, k, j, salt));
    const data = isRoot ? join(d, blocks) : undefined;
    const before = data ? snapshot(data) : undefined;
    let out: TypedArray | undefined;
    if (mode === "out") out = sentinel(d, k + 2);
    if (mode === "inplace") out = isRoot ? data!.subarray(root * k, root * k + k) : sentinel(d, k);
    const opts: OutOptions = out ? { out } : {};
    const result = await via(
      how,
      () => comm.scatter(data, root, opts),
      () => comm.iscatter(data, root, opts),
    );
    const want = blocks[comm.rank]!;
    checkTyped(t, "result", d, mode === "inplace" ? "inplace" : out ? "out" : "new", result, want, data, before, out);
  });
}

/** Rank s sends block j = elements j*k.. of its identifying data; rank r gets block r of every s. */
async function alltoallCase(x: Ctx, d: Dtype, k: number, mode: Mode, alg: string | null, how: Via, label = ""): Promise<void> {
  const { comm } = x;
  const p = comm.size;
  await x.run(`alltoall ${d.name} k=${k} alg=${alg ?? "auto"} ${mode} ${how}${label ? ` (${label})` : ""}`, async (t) => {
    const salt = k + 5;
    const data = moveData(d, k * p, comm.rank, salt);
    const before = snapshot(data);
    const want = join(
      d,
      range(p).map((s) => moveRef(d, k * p, s, salt).subarray(comm.rank * k, comm.rank * k + k)),
    );
    const out = mode === "out" ? sentinel(d, k * p + 2) : mode === "inplace" ? data : undefined;
    const opts = { ...algOpts(alg), ...(out ? { out } : {}) };
    const result = await via(
      how,
      () => comm.alltoall(data, opts),
      () => comm.ialltoall(data, opts),
    );
    checkTyped(t, "result", d, mode, result, want, data, before, out);
  });
}

async function bcastBody(x: Ctx): Promise<void> {
  await objBcast(x);
  const p = x.comm.size;
  let k = 0;
  for (const d of MOVABLE) for (const n of x.some(smallSizes(p), k)) for (const recv of RECEIVES) await bcastCase(x, d, n, pick(range(p), k), recv, null, pick(VIAS, k++));
  for (const root of range(p)) for (const recv of x.some(RECEIVES, root)) await bcastCase(x, F64, 7, root, recv, null, "blocking");
  for (const alg of algorithms("bcast").filter((a) => a !== null)) {
    for (const n of x.some(smallSizes(p), k)) {
      for (const recv of RECEIVES) {
        if (applies("bcast", alg, { typed: true, commutative: true, size: p, buffers: recv !== "undefined" }))
          await bcastCase(x, pick(MOVABLE, k), n, pick(range(p), k), recv, alg, pick(VIAS, k++));
      }
    }
  }
}

/** Both sides of every bcast threshold; non-roots passing undefined above it is defect 3 (4+ ranks). */
async function bcastThresholds(x: Ctx): Promise<void> {
  const p = x.comm.size;
  let k = 0;
  for (const th of thresholdsFor("bcast")) {
    for (const side of sides(th, p, F64.bytes).filter((sd) => affordable(x, sd.n, F64.bytes))) {
      for (const alg of thresholdAlgorithms(x, "bcast")) {
        for (const recv of RECEIVES) {
          const label = `${side.label}${p >= BCAST_MIN_RANKS ? "" : `, below ${BCAST_MIN_RANKS} ranks`}`;
          if (applies("bcast", alg, { typed: true, commutative: true, size: p, buffers: recv !== "undefined" }))
            await bcastCase(x, F64, side.n, pick(range(p), k), recv, alg, pick(VIAS, k++), label);
        }
      }
    }
  }
}

async function gatherBody(x: Ctx, all: boolean): Promise<void> {
  await objGather(x, all);
  const p = x.comm.size;
  const coll = all ? "allgather" : "gather";
  let k = 0;
  for (const d of MOVABLE) for (const n of x.some([0, 1, 7], k)) for (const mode of MODES) await gatherCase(x, all, d, n, pick(range(p), k), mode, null, pick(VIAS, k++));
  if (!all) for (const root of range(p)) await gatherCase(x, false, F64, 3, root, pick(MODES, root), null, "blocking");
  for (const alg of algorithms(all ? "allgather" : "gather").filter((a) => a !== null)) {
    if (!applies(coll, alg, { typed: true, commutative: true, size: p })) continue;
    for (const n of x.some([0, 1, 7], k)) for (const mode of MODES) await gatherCase(x, all, pick(MOVABLE, k), n, pick(range(p), k), mode, alg, pick(VIAS, k++));
  }
}

/** Both sides of every threshold of gather / allgather (each rank's own array is the ring block). */
async function gatherThresholds(x: Ctx, all: boolean): Promise<void> {
  const p = x.comm.size;
  const coll = all ? "allgather" : "gather";
  let k = 0;
  for (const th of thresholdsFor(coll)) {
    for (const side of sides(th, p, F64.bytes, { perRank: true }).filter((sd) => affordable(x, sd.n * p, F64.bytes))) {
      for (const alg of thresholdAlgorithms(x, all ? "allgather" : "gather")) {
        if (applies(coll, alg, { typed: true, commutative: true, size: p }))
          await gatherCase(x, all, F64, side.n, pick(range(p), k), pick(MODES, k), alg, pick(VIAS, k++), side.label);
      }
    }
  }
}

async function scatterBody(x: Ctx): Promise<void> {
  await objScatter(x);
  const p = x.comm.size;
  let k = 0;
  for (const d of MOVABLE) for (const n of x.some([0, 1, 7], k)) for (const mode of MODES) await scatterCase(x, d, n, pick(range(p), k), mode, pick(VIAS, k++));
  for (const root of range(p)) for (const mode of x.some(MODES, root)) await scatterCase(x, F64, 3, root, mode, "blocking");
}

/** Both sides of every scatter threshold (none today; a new one is tried here at once). */
async function scatterThresholds(x: Ctx): Promise<void> {
  const p = x.comm.size;
  let k = 0;
  for (const th of thresholdsFor("scatter"))
    for (const side of sides(th, p, F64.bytes)) await scatterCase(x, F64, Math.ceil(side.n / p), pick(range(p), k), pick(MODES, k), pick(VIAS, k++));
}

async function alltoallBody(x: Ctx): Promise<void> {
  await objAlltoall(x);
  let k = 0;
  for (const d of MOVABLE) for (const n of x.some([0, 1, 7], k)) for (const mode of MODES) await alltoallCase(x, d, n, mode, null, pick(VIAS, k++));
  for (const alg of algorithms("alltoall").filter((a) => a !== null))
    for (const n of x.some([0, 1, 7], k)) for (const mode of MODES) await alltoallCase(x, pick(MOVABLE, k), n, mode, alg, pick(VIAS, k++));
}

/** Every side × every algorithm × every form: in place with blocks of 64 KiB or more is defect 2. */
async function alltoallThresholds(x: Ctx): Promise<void> {
  const p = x.comm.size;
  let k = 0;
  for (const th of thresholdsFor("alltoall")) {
    for (const side of sides(th, p, F64.bytes).filter((sd) => affordable(x, sd.n, F64.bytes))) {
      for (const alg of algorithms("alltoall")) for (const mode of MODES) await alltoallCase(x, F64, side.n / p, mode, alg, pick(VIAS, k++), side.label);
    }
  }
}

export const movementGroups: Group[] = [
  { name: "bcast", from: "test_cco_buf testBcast; test_cco_nb_buf testBcast; test_cco_obj testBcast", body: bcastBody },
  { name: "bcast thresholds", from: "issue 9 defect 3", thresholdsOf: "bcast", body: bcastThresholds },
  { name: "gather", from: "test_cco_buf testGather + Inplace testGather; test_cco_nb_buf testGather; test_cco_obj testGather", body: (x) => gatherBody(x, false) },
  { name: "gather thresholds", from: "select.ts", thresholdsOf: "gather", body: (x) => gatherThresholds(x, false) },
  { name: "allgather", from: "test_cco_buf testAllgather + Inplace; test_cco_nb_buf testAllgather; test_cco_obj testAllgather", body: (x) => gatherBody(x, true) },
  { name: "allgather thresholds", from: "select.ts", thresholdsOf: "allgather", body: (x) => gatherThresholds(x, true) },
  { name: "scatter", from: "test_cco_buf testScatter + Inplace testScatter; test_cco_nb_buf testScatter; test_cco_obj testScatter", body: scatterBody },
  { name: "scatter thresholds", from: "select.ts", thresholdsOf: "scatter", body: scatterThresholds },
  { name: "alltoall", from: "test_cco_buf testAlltoall + Inplace testAlltoall; test_cco_nb_buf testAlltoall; test_cco_obj testAlltoall", body: alltoallBody },
  { name: "alltoall thresholds", from: "issue 9 defect 2", thresholdsOf: "alltoall", body: alltoallThresholds },
];
