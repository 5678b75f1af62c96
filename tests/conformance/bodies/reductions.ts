/**
 * reduce, allreduce, reduceScatter, scan and exscan on typed arrays: every op on every type it
 * applies to (and a UsageError on the others), every root, sizes 0/1/odd/not divisible, both
 * sides of every threshold, every algorithm forced, new / `out` / in-place results, blocking and
 * `i…` forms. Ported from mpi4py's test_cco_buf (testReduce, testAllreduce, testReduceScatter,
 * testReduceScatterBlock, testScan, testExscan and their Inplace variants), test_cco_nb_buf and
 * test_op (user ops, commutative or not).
 */
import { UsageError, type ALGORITHMS, type Communicator, type Op, type TypedArray } from "../../../src/index.js";
import { contribution, DTYPES, F64, opNamed, OPS, prefixes, U8C, type Dtype, type Num, type OpSpec } from "../data.js";
import type { Ctx, Group } from "../plan.js";
import { pick, range } from "../plan.js";
import { sides, thresholdsFor } from "../thresholds.js";
import { objReductions } from "./objects.js";
import { affordable, algOpts, algorithms, applies, thresholdAlgorithms, checkTyped, MODES, outFor, snapshot, smallSizes, via, VIAS, type Mode, type Via } from "./common.js";

type Red = "allreduce" | "reduce" | "reduceScatter" | "scan" | "exscan";

/** One reduction call to make and check. */
interface Spec {
  coll: Red;
  d: Dtype;
  o: OpSpec;
  /** Elements each rank passes. */
  n: number;
  root: number;
  mode: Mode;
  how: Via;
  alg: string | null;
  /** reduceScatter: counts as passed (pairs for MINLOC/MAXLOC), or undefined for the default. */
  counts?: number[];
  label?: string;
  salt: number;
}

function name(s: Spec): string {
  const parts = [s.coll, s.o.name, s.d.name, `n=${s.n}`];
  if (s.coll === "reduce") parts.push(`root=${s.root}`);
  if (s.coll === "reduceScatter") parts.push(s.counts ? `counts=[${s.counts.join(",")}]` : "counts=default");
  parts.push(`alg=${s.alg ?? "auto"}`, s.mode, s.how);
  if (s.label) parts.push(`(${s.label})`);
  return parts.join(" ");
}

/** Balanced counts of `units` over `p` blocks, the first `units % p` one longer. */
function balanced(units: number, p: number): number[] {
  return range(p).map((i) => Math.floor(units / p) + (i < units % p ? 1 : 0));
}

function call(comm: Communicator, s: Spec, data: TypedArray, opts: object): Promise<unknown> {
  const op: Op = s.o.op;
  switch (s.coll) {
    case "allreduce":
      return via(
        s.how,
        () => comm.allreduce(data, op, opts),
        () => comm.iallreduce(data, op, opts),
      );
    case "reduce":
      return via(
        s.how,
        () => comm.reduce(data, op, s.root, opts),
        () => comm.ireduce(data, op, s.root, opts),
      );
    case "reduceScatter":
      return via(
        s.how,
        () => comm.reduceScatter(data, op, s.counts, opts),
        () => comm.ireduceScatter(data, op, s.counts, opts),
      );
    case "scan":
      return via(
        s.how,
        () => comm.scan(data, op, opts),
        () => comm.iscan(data, op, opts),
      );
    case "exscan":
      return via(
        s.how,
        () => comm.exscan(data, op, opts),
        () => comm.iexscan(data, op, opts),
      );
  }
}

/** What this rank must get, or undefined (non-roots of reduce, rank 0 of exscan). */
function expected(s: Spec, rank: number, p: number): ArrayLike<Num> | undefined {
  const pre = prefixes(s.d, s.o, s.n, p, s.salt);
  switch (s.coll) {
    case "allreduce":
      return pre[p - 1];
    case "reduce":
      return rank === s.root ? pre[p - 1] : undefined;
    case "scan":
      return pre[rank];
    case "exscan":
      return rank === 0 ? undefined : pre[rank - 1];
    case "reduceScatter": {
      const unit = s.o.pairs ? 2 : 1;
      const counts = (s.counts ?? balanced(s.n / unit, p)).map((c) => c * unit);
      const at = counts.slice(0, rank).reduce((a, b) => a + b, 0);
      return pre[p - 1]!.subarray(at, at + counts[rank]!);
    }
  }
}

async function runSpec(x: Ctx, s: Spec): Promise<void> {
  const { comm } = x;
  const p = comm.size;
  await x.run(name(s), async (t) => {
    const data = contribution(s.d, s.o, s.n, comm.rank, p, s.salt);
    const before = snapshot(data);
    const want = expected(s, comm.rank, p);
    // Only ranks that receive a result pass an `out` (reduce: the root; exscan: not rank 0).
    const out = want === undefined ? undefined : outFor(s.mode, s.d, data, want.length);
    const result = await call(comm, s, data, { ...algOpts(s.alg), ...(out ? { out } : {}) });
    if (want === undefined) {
      t.ok(result === undefined, `${s.coll} must give undefined here, got ${typeof result}`);
      if (s.mode !== "inplace") t.typed(data, s.d.ctor, before, "the input was modified");
      return;
    }
    checkTyped(t, "result", s.d, out ? s.mode : "new", result, want, data, before, out, s.o.tolerance);
  });
}

const facts = (s: { o: OpSpec }, p: number) => ({ typed: true, commutative: s.o.commutative, size: p });

/**
 * (op, type) pairs: every applicable pair at "full" depth; at "lite", each op once with the types
 * rotating, and each type once with the ops rotating (so every op and every type still appear).
 */
function opTypePairs(x: Ctx): Array<[OpSpec, Dtype]> {
  const all = OPS.flatMap((o) => DTYPES.filter((d) => o.applies(d)).map((d): [OpSpec, Dtype] => [o, d]));
  if (x.depth === "full") return all;
  const byOp = OPS.map((o, i): [OpSpec, Dtype] => [
    o,
    pick(
      DTYPES.filter((d) => o.applies(d)),
      i,
    ),
  ]);
  const byType = DTYPES.map((d, i): [OpSpec, Dtype] => [
    pick(
      OPS.filter((o) => o.applies(d)),
      i + 3,
    ),
    d,
  ]);
  return [...byOp, ...byType];
}

/** Every applicable (op, type) pair × small sizes, roots/forms/blocking rotated so each appears. */
async function matrix(x: Ctx, coll: Red): Promise<void> {
  const p = x.comm.size;
  let k = 0;
  for (const [o, d] of opTypePairs(x)) {
    for (const n of x.some(smallSizes(p, o.pairs), k)) {
      k++;
      await runSpec(x, { coll, d, o, n, root: pick(range(p), k), mode: pick(MODES, k), how: pick(VIAS, k >> 1), alg: null, salt: k });
    }
  }
  // Every root with every form, for one op and type.
  if (coll === "reduce") {
    for (const root of range(p))
      for (const mode of x.some(MODES, root)) await runSpec(x, { coll, d: F64, o: opNamed("SUM"), n: 7, root, mode, how: "blocking", alg: null, salt: root });
  }
}

/** Each algorithm forced, over ops that exercise it (commutative, pairs, user, non-commutative). */
async function forced(x: Ctx, coll: Red): Promise<void> {
  const p = x.comm.size;
  const family = (coll === "exscan" ? "scan" : coll) as keyof typeof ALGORITHMS;
  let k = 0;
  for (const alg of algorithms(family).filter((a) => a !== null)) {
    for (const o of ["SUM", "MINLOC", "MAXLOC", "usersum", "last", "BXOR"].map(opNamed)) {
      for (const n of x.some(smallSizes(p, o.pairs), k)) {
        const d =
          o.name === "BXOR"
            ? pick(
                DTYPES.filter((q) => q.int),
                k,
              )
            : pick(DTYPES, k);
        const s: Spec = { coll, d, o, n, root: pick(range(p), k), mode: pick(MODES, k), how: pick(VIAS, k), alg, salt: 100 + k };
        k++;
        if (applies(family, alg, facts(s, p))) await runSpec(x, s);
      }
    }
  }
}

/** Both sides of every threshold that decides this collective, auto and forced. */
async function thresholds(x: Ctx, coll: Red): Promise<void> {
  const p = x.comm.size;
  const family = (coll === "exscan" ? "scan" : coll) as keyof typeof ALGORITHMS;
  let k = 0;
  for (const th of thresholdsFor(family)) {
    // A non-commutative op checks that the choice never takes the ring for it; a ring threshold
    // (segments) cannot concern it. It costs a JS call per element: "full" depth only.
    // On real processes SUM only (see thresholdAlgorithms): MINLOC and user ops cost a JS call per element.
    const names = x.level === "process" ? ["SUM"] : x.depth === "full" ? ["SUM", "MINLOC", "last"] : ["SUM", "MINLOC"];
    const ops = names.map(opNamed).filter((o) => th.measure !== "ring" || o.commutative);
    for (const o of ops) {
      for (const side of sides(th, p, F64.bytes, { pairs: o.pairs }).filter((sd) => affordable(x, sd.n, F64.bytes))) {
        for (const alg of thresholdAlgorithms(x, family)) {
          // One salt per side and op: the algorithms share the contributions (and their reference).
          const s: Spec = { coll, d: F64, o, n: side.n, root: pick(range(p), k), mode: pick(MODES, k), how: pick(VIAS, k), alg, label: side.label, salt: 200 };
          k++;
          if (applies(family, alg, facts(s, p))) await runSpec(x, s);
        }
      }
    }
  }
}

/** reduceScatter's counts: uneven with zeros, all on one rank, all zero, in pairs for MINLOC/MAXLOC. */
async function counts(x: Ctx): Promise<void> {
  const p = x.comm.size;
  const patterns = [range(p).map((i) => (i * 5 + 3) % 4), range(p).map((i) => (i === p - 1 ? 3 : 0)), range(p).map(() => 0), range(p).map((i) => i + 1)];
  let k = 0;
  for (const o of ["SUM", "MINLOC", "PROD", "last", "usersum"].map(opNamed)) {
    for (const c of x.some(patterns, k)) {
      for (const alg of algorithms("reduceScatter")) {
        const d = pick(DTYPES, k);
        const units = c.reduce((a, b) => a + b, 0);
        const s: Spec = { coll: "reduceScatter", d, o, n: units * (o.pairs ? 2 : 1), root: 0, mode: pick(MODES, k), how: pick(VIAS, k), alg, counts: c, salt: 300 + k };
        k++;
        if (applies("reduceScatter", alg, facts(s, p))) await runSpec(x, s);
      }
    }
  }
}

/** Bad input is a UsageError on every rank before anything is sent. */
async function refusals(x: Ctx, coll: Red): Promise<void> {
  const { comm } = x;
  const cases: Array<[string, TypedArray, OpSpec]> = [
    ["BAND on float64", new Float64Array(3), opNamed("BAND")],
    ["LOR on float32", new Float32Array(3), opNamed("LOR")],
    ["SUM on uint8clamped", new U8C.ctor(3), opNamed("SUM")],
    ["MINLOC on an odd length", new Float64Array(3), opNamed("MINLOC")],
  ];
  for (const [what, data, o] of cases) {
    await x.run(`${coll} refuses ${what}`, async (t) => {
      const s: Spec = { coll, d: F64, o, n: data.length, root: 0, mode: "new", how: "blocking", alg: null, salt: 0 };
      await t.rejects(() => call(comm, s, data, {}), UsageError, `${coll} ${what}`);
    });
  }
  if (coll === "reduce") {
    for (const root of [-1, comm.size, 0.5]) {
      await x.run(`reduce refuses root=${root}`, async (t) => {
        await t.rejects(() => comm.reduce(new Float64Array(2), opNamed("SUM").op, root), UsageError, `reduce with root ${root}`);
      });
    }
  }
}

function group(coll: Red, from: string): Group {
  return {
    name: coll,
    from,
    async body(x) {
      if (coll !== "reduceScatter") await objReductions(x, coll);
      await matrix(x, coll);
      await forced(x, coll);
      if (coll === "reduceScatter") await counts(x);
      await refusals(x, coll);
    },
  };
}

function thresholdGroup(coll: Red, from: string): Group {
  const family = coll === "exscan" ? "scan" : coll;
  return { name: `${coll} thresholds`, from, thresholdsOf: family, body: (x) => thresholds(x, coll) };
}

export const reductionGroups: Group[] = [
  group("reduce", "test_cco_buf testReduce + Inplace; test_cco_nb_buf testReduce; test_cco_obj testReduce; test_op testCreate"),
  thresholdGroup("reduce", "select.ts"),
  group("allreduce", "test_cco_buf testAllreduce + Inplace; test_cco_nb_buf testAllreduce; test_cco_obj testAllreduce; test_op testCreate (commute True/False, N=0..3)"),
  thresholdGroup("allreduce", "issue 9 defect 1"),
  group("reduceScatter", "test_cco_buf testReduceScatter, testReduceScatterBlock + Inplace; test_cco_nb_buf"),
  thresholdGroup("reduceScatter", "issue 9 defect 1 (reduceScatter)"),
  group("scan", "test_cco_buf testScan + Inplace; test_cco_nb_buf testScan; test_cco_obj testScan"),
  thresholdGroup("scan", "select.ts"),
  group("exscan", "test_cco_buf testExscan + Inplace; test_cco_nb_buf testExscan; test_cco_obj testExscan"),
];
