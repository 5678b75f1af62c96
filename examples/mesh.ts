// A named mesh for tensor/pipeline/data parallelism: each rank prints its coordinates, then an
// allreduce runs inside each dimension's groups.
//   npx zmpi launch -n 8 --nodes 2 examples/mesh.ts          # { pp: 2, dp: 2, tp: 2 }
//   MESH=state:4,walker:2 npx zmpi launch -n 8 examples/mesh.ts
import { init, Op } from "zmpi";

const world = await init();
const spec: Record<string, number> = {};
for (const part of (process.env.MESH ?? (world.size === 8 ? "pp:2,dp:2,tp:2" : `dp:-1`)).split(",")) {
  const [name, size] = part.split(":");
  spec[name!] = Number(size);
}
const mesh = await world.mesh(spec);
const coords = mesh.dims.map((d) => `${d}=${mesh.coords[d]}`).join(" ");
world.log.all(`rank ${world.rank} on ${world.node}: ${coords}; groups ${mesh.dims.map((d) => `${d}[${mesh.ranksOf(d).join(",")}]`).join(" ")}`);
for (const d of mesh.dims) {
  const comm = mesh.get(d);
  const sum = await comm.allreduce(Float64Array.of(world.rank), Op.SUM);
  const members = mesh.ranksOf(d);
  if (sum[0] !== members.reduce((a, b) => a + b, 0)) throw new Error(`allreduce over ${d} gave ${sum[0]}`);
  world.log.all(`${d}: allreduce of ranks ${members.join("+")} = ${sum[0]}${mesh.nodeLocal(d) ? " (node-local)" : ""}`);
}
await world.finalize();
