// A named mesh for tensor/pipeline/data parallelism: each rank prints its coordinates, then an
// allreduce runs inside each dimension's groups.
//   npx zmpi launch -n 8 --nodes 2 examples/mesh.ts          # { pp: 2, dp: 2, tp: 2 }
//   ZMPI_MESH=state:4,walker:2 npx zmpi launch -n 8 examples/mesh.ts     # what world.mesh("env") reads
import { init, Op } from "zmpi";

const world = await init();
// The shape from ZMPI_MESH (what "zmpi sbatch" sets from a config; MESH= works too), else a default.
const fromEnv = process.env.ZMPI_MESH ?? process.env.MESH;
const mesh = fromEnv
  ? await world.mesh("env", { env: { ZMPI_MESH: fromEnv, ZMPI_MESH_PLACEMENT: process.env.ZMPI_MESH_PLACEMENT } })
  : await world.mesh<string>(world.size === 8 ? { pp: 2, dp: 2, tp: 2 } : { dp: -1 });
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
