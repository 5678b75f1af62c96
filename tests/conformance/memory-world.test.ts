/**
 * The conformance suite over the world communicator on the in-memory transport, 1–17 ranks (see
 * memory.ts for what runs where). Same engine, matching and algorithms as real ranks; only the
 * wire differs. Real processes: processes.test.ts; Slurm: slurm.test.ts.
 */
import { memorySuite } from "./memory.js";

memorySuite((kind) => kind === "world");
