// Ping-pong between ranks 0 and 1: half round-trip latency and bandwidth for a few sizes.
//   npx zmpi launch -n 2 examples/ping-pong.ts
import { init } from "zmpi";

const world = await init();
if (world.size < 2) throw new Error("ping-pong needs at least 2 ranks (npx zmpi launch -n 2 examples/ping-pong.ts)");
const sizes = [8, 1024, 64 * 1024, 1024 * 1024];
for (const bytes of sizes) {
  const buf = new Uint8Array(bytes).fill(world.rank);
  const iters = bytes >= 1 << 20 ? 50 : 500;
  await world.barrier();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) {
    if (world.rank === 0) {
      await world.send(buf, 1);
      await world.recv({ source: 1 });
    } else if (world.rank === 1) {
      await world.recv({ source: 0 });
      await world.send(buf, 0);
    }
  }
  const us = ((performance.now() - t0) * 1000) / iters / 2;
  world.log.info(`${String(bytes).padStart(8)} B  ${us.toFixed(1).padStart(8)} us  ${(bytes / us).toFixed(1).padStart(8)} MB/s`);
}
await world.finalize();
