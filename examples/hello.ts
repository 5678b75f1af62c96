// Each rank reports where it runs, then a token goes once around a ring of sends.
//   npx zmpi launch -n 4 examples/hello.ts
//   srun -N2 -n4 node --import tsx examples/hello.ts
import { init } from "zmpi";

const world = await init();
world.log.all(`hello from rank ${world.rank} of ${world.size} on ${world.node} (local rank ${world.localRank}, pid ${process.pid})`);

if (world.size > 1) {
  const next = (world.rank + 1) % world.size;
  const prev = (world.rank - 1 + world.size) % world.size;
  if (world.rank === 0) {
    await world.send({ hops: [0] }, next, { tag: 1 });
    const token = await world.recv<{ hops: number[] }>({ source: prev, tag: 1 });
    world.log.info(`token went around the ring: ${token.hops.join(" -> ")} -> 0`);
  } else {
    const token = await world.recv<{ hops: number[] }>({ source: prev, tag: 1 });
    token.hops.push(world.rank);
    await world.send(token, next, { tag: 1 });
  }
}
await world.finalize();
