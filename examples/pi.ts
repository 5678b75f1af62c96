// Monte Carlo estimate of pi: every rank throws its own darts, a reduce adds up the hits.
//   npx zmpi launch -n 4 examples/pi.ts [darts-per-rank]
import { init, Op } from "zmpi";

const world = await init();
const darts = Number(process.argv[2] ?? 1_000_000);
let seed = 12345 + world.rank * 7919;
const random = () => {
  // xorshift32: a reproducible stream per rank, independent of Math.random's state.
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
};
let hits = 0;
for (let i = 0; i < darts; i++) {
  const x = random();
  const y = random();
  if (x * x + y * y <= 1) hits++;
}
const counts = await world.reduce(Float64Array.of(hits, darts), Op.SUM, 0);
if (world.rank === 0) {
  const [h, n] = counts!;
  world.log.info(`pi ≈ ${((4 * h!) / n!).toFixed(6)} from ${n} darts on ${world.size} rank(s) (error ${Math.abs((4 * h!) / n! - Math.PI).toExponential(2)})`);
}
await world.finalize();
