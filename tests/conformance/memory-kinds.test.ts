/**
 * The conformance suite over the other communicator kinds (dup, self, reversed split, odd
 * subgroup, mesh dimension) on the in-memory transport, each at every third size of 1–17 (see
 * memory.ts). Split from memory-world.test.ts so the two run in parallel.
 */
import { memorySuite } from "./memory.js";

memorySuite((kind) => kind !== "world");
