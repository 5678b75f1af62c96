/**
 * zmpi rng: reproducible random streams for any layout (counter-based Philox4x32-10, keyed by
 * seed and a key path), with bulk fills in WASM SIMD and a bit-identical JS path.
 */
export { Rng, createRng, type RngState } from "./rng.js";
export { parseSeed, type RngKey, type RngSeed } from "./key.js";
export { resolveSeed, DEFAULT_SEED } from "./seed.js";
export { philox4x32 } from "./philox.js";
