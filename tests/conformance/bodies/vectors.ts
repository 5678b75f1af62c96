/**
 * The v-forms: gatherv, allgatherv, scatterv and alltoallv with uneven counts, zero counts (some
 * ranks, or all), counts omitted (the ranks exchange them), every root, new / `out` / in-place
 * (alltoallv with symmetric counts), both sides of the alltoall threshold, each algorithm forced.
 * Ported from mpi4py's test_cco_vec (testGatherv/2/3, testScatterv/2/3, testAllgatherv/2/3,
 * testAlltoallv/2/3 and the Inplace class) and test_cco_nb_vec.
 */
import type { OutOptions, TypedArray } from "../../../src/index.js";
import { F64, MOVABLE, moveRef, type Dtype } from "../data.js";
import type { Ctx, Group } from "../plan.js";
import { pick, range } from "../plan.js";
import { sides, thresholdsFor } from "../thresholds.js";
import { affordable, algOpts, algorithms, checkTyped, join, sentinel, snapshot, via, VIAS, type Via } from "./common.js";

/** Per-rank counts patterns: uneven with zeros, one rank only, all zero, a ramp. */
function patterns(p: number): Array<[string, number[]]> {
  return [
    ["uneven", range(p).map((i) => (i * 5 + 3) % 4)],
    ["last-only", range(p).map((i) => (i === p - 1 ? 5 : 0))],
    ["all-zero", range(p).map(() => 0)],
    ["ramp", range(p).map((i) => i + 1)],
  ];
}

type VMode = "new" | "out";

async function gathervCase(x: Ctx, all: boolean, d: Dtype, pat: [string, number[]], omit: boolean, root: number, mode: VMode, how: Via = "blocking"): Promise<void> {
  const { comm } = x;
  const coll = all ? "allgatherv" : "gatherv";
  const [label, counts] = pat;
  await x.run(`${coll} ${d.name} counts=${label}[${counts.join(",")}]${omit ? " omitted" : ""}${all ? "" : ` root=${root}`} ${mode} ${how}`, async (t) => {
    const salt = counts.length + 7;
    const data = moveRef(d, counts[comm.rank]!, comm.rank, salt).slice() as TypedArray;
    const before = snapshot(data);
    const receives = all || comm.rank === root;
    const total = counts.reduce((a, b) => a + b, 0);
    const out = receives && mode === "out" ? sentinel(d, total + 2) : undefined;
    const opts: OutOptions = out ? { out } : {};
    const cs = omit ? undefined : counts;
    const result = all
      ? await via(
          how,
          () => comm.allgatherv(data, cs, opts),
          () => comm.iallgatherv(data, cs, opts),
        )
      : await via(
          how,
          () => comm.gatherv(data, cs, root, opts),
          () => comm.igatherv(data, cs, root, opts),
        );
    if (!receives) {
      t.ok(result === undefined, `gatherv on a non-root must give undefined, got ${typeof result}`);
      return;
    }
    const want = join(
      d,
      range(comm.size).map((r) => moveRef(d, counts[r]!, r, salt)),
    );
    checkTyped(t, "result", d, out ? "out" : "new", result, want, data, before, out);
  });
}

async function scattervCase(x: Ctx, d: Dtype, pat: [string, number[]], everywhere: boolean, root: number, mode: VMode, how: Via = "blocking"): Promise<void> {
  const { comm } = x;
  const [label, counts] = pat;
  await x.run(`scatterv ${d.name} counts=${label}[${counts.join(",")}] ${everywhere ? "on every rank" : "on the root only"} root=${root} ${mode} ${how}`, async (t) => {
    const salt = counts.length + 11;
    const isRoot = comm.rank === root;
    const data = isRoot
      ? join(
          d,
          range(comm.size).map((j) => moveRef(d, counts[j]!, j, salt)),
        )
      : undefined;
    const before = data ? snapshot(data) : undefined;
    const out = mode === "out" ? sentinel(d, counts[comm.rank]! + 2) : undefined;
    const opts: OutOptions = out ? { out } : {};
    const cs = isRoot || everywhere ? counts : undefined;
    const result = await via(
      how,
      () => comm.scatterv(data, cs, root, opts),
      () => comm.iscatterv(data, cs, root, opts),
    );
    checkTyped(t, "result", d, out ? "out" : "new", result, moveRef(d, counts[comm.rank]!, comm.rank, salt), data, before, out);
  });
}

/** Counts of rank r's block for rank j. */
type Matrix = (r: number, j: number) => number;

async function alltoallvCase(
  x: Ctx,
  d: Dtype,
  label: string,
  c: Matrix,
  omit: boolean,
  mode: "new" | "out" | "inplace",
  alg: string | null,
  sideLabel = "",
  how: Via = "blocking",
): Promise<void> {
  const { comm } = x;
  const p = comm.size;
  const r = comm.rank;
  await x.run(`alltoallv ${d.name} counts=${label}${omit ? " recvCounts omitted" : ""} alg=${alg ?? "auto"} ${mode} ${how}${sideLabel ? ` (${sideLabel})` : ""}`, async (t) => {
    const salt = 13;
    const send = range(p).map((j) => c(r, j));
    const recv = range(p).map((s) => c(s, r));
    // Block for j carries positions j·2^20… of this rank's identifying values.
    const data = join(
      d,
      range(p).map((j) => moveRef(d, c(r, j), r, salt, j << 20)),
    );
    const before = snapshot(data);
    const want = join(
      d,
      range(p).map((s) => moveRef(d, c(s, r), s, salt, r << 20)),
    );
    const out = mode === "out" ? sentinel(d, want.length + 2) : mode === "inplace" ? data : undefined;
    const opts = { ...algOpts(alg), ...(out ? { out } : {}) };
    const rc = omit ? undefined : recv;
    const result = await via(
      how,
      () => comm.alltoallv(data, send, rc, opts),
      () => comm.ialltoallv(data, send, rc, opts),
    );
    checkTyped(t, "result", d, mode, result, want, data, before, out);
  });
}

async function gathervBody(x: Ctx, all: boolean): Promise<void> {
  const p = x.comm.size;
  let k = 0;
  for (const pat of patterns(p)) {
    for (const omit of [false, true]) {
      for (const d of x.some(MOVABLE, k)) {
        for (const mode of ["new", "out"] as const) await gathervCase(x, all, d, pat, omit, pick(range(p), k), mode, pick(VIAS, k++ >> 1));
      }
    }
  }
  if (!all) for (const root of range(p)) await gathervCase(x, false, F64, patterns(p)[0]!, root % 2 === 1, root, "new");
}

async function scattervBody(x: Ctx): Promise<void> {
  const p = x.comm.size;
  let k = 0;
  for (const pat of patterns(p)) {
    for (const everywhere of [false, true]) {
      for (const d of x.some(MOVABLE, k)) for (const mode of ["new", "out"] as const) await scattervCase(x, d, pat, everywhere, pick(range(p), k), mode, pick(VIAS, k++ >> 1));
    }
  }
  for (const root of range(p)) await scattervCase(x, F64, patterns(p)[0]!, false, root, "out");
}

async function alltoallvBody(x: Ctx): Promise<void> {
  const uneven: Matrix = (r, j) => (r + 2 * j + 1) % 3;
  const symmetric: Matrix = (r, j) => ((r + j) % 3) + (r === j ? 1 : 0);
  const zero: Matrix = () => 0;
  let k = 0;
  for (const alg of algorithms("alltoall")) {
    for (const omit of [false, true]) {
      for (const d of x.some(MOVABLE, k++)) {
        await alltoallvCase(x, d, "uneven", uneven, omit, pick(["new", "out"] as const, k), alg, "", pick(VIAS, k));
        await alltoallvCase(x, d, "symmetric", symmetric, omit, "inplace", alg, "", pick(VIAS, k + 1));
        await alltoallvCase(x, d, "all-zero", zero, omit, pick(["new", "out", "inplace"] as const, k), alg, "", pick(VIAS, k >> 1));
      }
    }
  }
}

/** One large block per rank on each side of the alltoall thresholds; in place with symmetric counts. */
async function alltoallvThresholds(x: Ctx): Promise<void> {
  const p = x.comm.size;
  let k = 0;
  for (const th of thresholdsFor("alltoall")) {
    for (const side of sides(th, p, F64.bytes).filter((sd) => affordable(x, sd.n, F64.bytes))) {
      const big = side.n / p;
      const oneBig: Matrix = (r, j) => (j === (r + 1) % p ? big : 1);
      const symBig: Matrix = (r, j) => ((r + j) % p === 1 % p ? big : 1);
      for (const alg of algorithms("alltoall")) {
        await alltoallvCase(x, F64, "one-big", oneBig, k % 2 === 0, pick(["new", "out"] as const, k), alg, side.label);
        await alltoallvCase(x, F64, "symmetric-big", symBig, k++ % 2 === 1, "inplace", alg, side.label);
      }
    }
  }
}

export const vectorGroups: Group[] = [
  { name: "gatherv", from: "test_cco_vec testGatherv/2/3; test_cco_nb_vec", body: (x) => gathervBody(x, false) },
  { name: "allgatherv", from: "test_cco_vec testAllgatherv/2/3; test_cco_nb_vec", body: (x) => gathervBody(x, true) },
  { name: "scatterv", from: "test_cco_vec testScatterv/2/3; test_cco_nb_vec", body: scattervBody },
  { name: "alltoallv", from: "test_cco_vec testAlltoallv/2/3 + Inplace testAlltoallv; test_cco_nb_vec", body: alltoallvBody },
  { name: "alltoallv thresholds", from: "issue 9 defect 2 (alltoallv)", thresholdsOf: "alltoall", body: alltoallvThresholds },
];
