/**
 * The plain-value (msgpack) forms of every collective, ported from mpi4py's test_cco_obj: the same
 * messages through bcast/gather/scatter/allgather/alltoall from every root, and reductions of
 * plain values with every op, including MINLOC/MAXLOC pairs, a commutative user op and two
 * non-commutative ones (list concatenation, 2×2 matrix product) whose result shows the order.
 * C1: the root of bcast and scatter, and every rank of a 1-rank communicator, get copies.
 */
import { Op } from "../../../src/index.js";
import { hash, MESSAGES, USER_SUM } from "../data.js";
import type { Ctx } from "../plan.js";
import { pick, range } from "../plan.js";
import { via, VIAS } from "./common.js";

/** A plain-value reduction: each rank's value and the reference combine. */
interface ObjOp {
  name: string;
  op: Op;
  value(r: number, p: number, salt: number): unknown;
  ref(a: unknown, b: unknown): unknown;
}

type Mat = [[number, number], [number, number]];
const matmul = (a: Mat, b: Mat): Mat => [
  [a[0][0] * b[0][0] + a[0][1] * b[1][0], a[0][0] * b[0][1] + a[0][1] * b[1][1]],
  [a[1][0] * b[0][0] + a[1][1] * b[1][0], a[1][0] * b[0][1] + a[1][1] * b[1][1]],
];
const CONCAT = Op.create((a, b) => [...(a as unknown[]), ...(b as unknown[])], { commutative: false, name: "concat" });
const MATMUL = Op.create((a, b) => matmul(a as Mat, b as Mat), { commutative: false, name: "matmul" });

const num = (a: unknown) => a as number;
const loc = (less: boolean) => (a: unknown, b: unknown) => {
  const [va, ia] = a as [number, number];
  const [vb, ib] = b as [number, number];
  if (va === vb) return ia <= ib ? a : b;
  return (less ? va < vb : va > vb) ? a : b;
};

const OBJ_OPS: readonly ObjOp[] = [
  { name: "SUM", op: Op.SUM, value: (r) => r * 3 - 7, ref: (a, b) => num(a) + num(b) },
  { name: "SUM(float)", op: Op.SUM, value: (r) => r / 4 - 0.5, ref: (a, b) => num(a) + num(b) },
  { name: "PROD", op: Op.PROD, value: (r) => [1, -1, 2][(r + 1) % 3], ref: (a, b) => num(a) * num(b) },
  { name: "MIN", op: Op.MIN, value: (r, _p, s) => (hash(r, s) % 2001) - 1000, ref: (a, b) => Math.min(num(a), num(b)) },
  { name: "MAX", op: Op.MAX, value: (r, _p, s) => (hash(r, s) % 2001) - 1000 + 0.5, ref: (a, b) => Math.max(num(a), num(b)) },
  { name: "LAND", op: Op.LAND, value: (r, p, s) => !(s % 2 === 0 && r === s % p), ref: (a, b) => Boolean(a) && Boolean(b) },
  { name: "LOR", op: Op.LOR, value: (r, p, s) => s % 2 === 1 && r === s % p, ref: (a, b) => Boolean(a) || Boolean(b) },
  { name: "BAND", op: Op.BAND, value: (r, _p, s) => hash(r, s, 1) & 0xffff, ref: (a, b) => num(a) & num(b) },
  { name: "BOR", op: Op.BOR, value: (r, _p, s) => hash(r, s, 2) & 0xffff, ref: (a, b) => num(a) | num(b) },
  { name: "BXOR", op: Op.BXOR, value: (r, _p, s) => hash(r, s, 3) & 0xffff, ref: (a, b) => num(a) ^ num(b) },
  { name: "MINLOC", op: Op.MINLOC, value: (r, _p, s) => [hash(r, s, 4) % 3, (r * 7 + 3) % 101], ref: loc(true) },
  { name: "MAXLOC", op: Op.MAXLOC, value: (r, _p, s) => [hash(r, s, 5) % 3, (r * 7 + 3) % 101], ref: loc(false) },
  { name: "MINLOC(rank,rank)", op: Op.MINLOC, value: (r) => [r, r], ref: loc(true) },
  { name: "usersum", op: USER_SUM, value: (r) => r + 1, ref: (a, b) => num(a) + num(b) },
  { name: "concat", op: CONCAT, value: (r) => [`r${r}`], ref: (a, b) => [...(a as unknown[]), ...(b as unknown[])] },
  {
    name: "matmul",
    op: MATMUL,
    value: (r) => [
      [1, r + 1],
      [r % 2, 1],
    ],
    ref: (a, b) => matmul(a as Mat, b as Mat),
  },
];

const fold = (o: ObjOp, values: unknown[]) => values.slice(1).reduce((acc, v) => o.ref(acc, v), values[0]);

/** reduce / allreduce / scan / exscan of plain values with every op (every root for reduce). */
export async function objReductions(x: Ctx, coll: "reduce" | "allreduce" | "scan" | "exscan"): Promise<void> {
  const { comm } = x;
  const p = comm.size;
  const r = comm.rank;
  let k = 0;
  for (const o of OBJ_OPS) {
    const roots = coll === "reduce" ? x.some(range(p), k) : [0];
    for (const root of roots) {
      const how = pick(VIAS, k++);
      await x.run(`${coll} obj ${o.name}${coll === "reduce" ? ` root=${root}` : ""} ${how}`, async (t) => {
        const values = range(p).map((q) => o.value(q, p, k));
        const mine = o.value(r, p, k);
        let result: unknown;
        let want: unknown;
        if (coll === "reduce") {
          result = await via(
            how,
            () => comm.reduce(mine, o.op, root),
            () => comm.ireduce(mine, o.op, root),
          );
          want = r === root ? fold(o, values) : undefined;
        } else if (coll === "allreduce") {
          result = await via(
            how,
            () => comm.allreduce(mine, o.op),
            () => comm.iallreduce(mine, o.op),
          );
          want = fold(o, values);
        } else if (coll === "scan") {
          result = await via(
            how,
            () => comm.scan(mine, o.op),
            () => comm.iscan(mine, o.op),
          );
          want = fold(o, values.slice(0, r + 1));
        } else {
          result = await via(
            how,
            () => comm.exscan(mine, o.op),
            () => comm.iexscan(mine, o.op),
          );
          want = r === 0 ? undefined : fold(o, values.slice(0, r));
        }
        t.equal(result, want, "result");
        if (typeof mine === "object" && result !== undefined) t.fresh(result, mine, "result");
      });
    }
  }
}

/** mpi4py's messages from every root; the root gets a copy of its own object (C1). */
export async function objBcast(x: Ctx): Promise<void> {
  const { comm } = x;
  let k = 0;
  for (const [m, msg] of MESSAGES.entries()) {
    for (const root of x.some(range(comm.size), k)) {
      const how = pick(VIAS, k++);
      await x.run(`bcast obj message#${m} root=${root} ${how}`, async (t) => {
        const data = comm.rank === root ? structuredClone(msg) : undefined;
        const result = await via(
          how,
          () => comm.bcast(data, root),
          () => comm.ibcast(data, root),
        );
        t.equal(result, msg, "result");
        if (comm.rank === root) t.fresh(result, data, "root");
      });
    }
  }
}

/** gather (every root) and allgather of [rank, message]: results indexed by rank. */
export async function objGather(x: Ctx, all: boolean): Promise<void> {
  const { comm } = x;
  const p = comm.size;
  let k = 0;
  for (const [m, msg] of [...MESSAGES, MESSAGES].entries()) {
    for (const root of all ? [0] : x.some(range(p), k)) {
      const how = pick(VIAS, k++);
      await x.run(`${all ? "allgather" : "gather"} obj message#${m}${all ? "" : ` root=${root}`} ${how}`, async (t) => {
        const mine = [comm.rank, msg];
        const want = range(p).map((q) => [q, msg]);
        const result = all
          ? await via(
              how,
              () => comm.allgather(mine),
              () => comm.iallgather(mine),
            )
          : await via(
              how,
              () => comm.gather(mine, root),
              () => comm.igather(mine, root),
            );
        t.equal(result, all || comm.rank === root ? want : undefined, "result");
        if (Array.isArray(result)) t.fresh(result[comm.rank], mine, "own item");
      });
    }
  }
}

/** scatter of p items [dest, message] from every root; the root's item is a copy (C1). */
export async function objScatter(x: Ctx): Promise<void> {
  const { comm } = x;
  const p = comm.size;
  let k = 0;
  for (const [m, msg] of [...MESSAGES, MESSAGES].entries()) {
    for (const root of x.some(range(p), k)) {
      const how = pick(VIAS, k++);
      await x.run(`scatter obj message#${m} root=${root} ${how}`, async (t) => {
        const items = comm.rank === root ? range(p).map((j) => [j, msg]) : undefined;
        const result = await via(
          how,
          () => comm.scatter(items, root),
          () => comm.iscatter(items, root),
        );
        t.equal(result, [comm.rank, msg], "result");
        if (items) t.fresh(result, items[root], "root's own item");
      });
    }
  }
}

/** alltoall of p items: item j of rank s is [s, j, message]; rank r gets [s, r, message] by s. */
export async function objAlltoall(x: Ctx): Promise<void> {
  const { comm } = x;
  const p = comm.size;
  let k = 0;
  for (const [m, msg] of [...MESSAGES, MESSAGES].entries()) {
    const how = pick(VIAS, k++);
    await x.run(`alltoall obj message#${m} ${how}`, async (t) => {
      const items = range(p).map((j) => [comm.rank, j, msg]);
      const result = await via(
        how,
        () => comm.alltoall(items),
        () => comm.ialltoall(items),
      );
      t.equal(
        result,
        range(p).map((s) => [s, comm.rank, msg]),
        "result",
      );
      if (Array.isArray(result)) t.fresh(result[comm.rank], items[comm.rank], "own item");
    });
  }
}
