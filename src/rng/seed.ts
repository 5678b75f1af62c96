/**
 * Where a job's seed comes from: `init({ seed })`, else `ZMPI_SEED`, else 0. A fixed default
 * makes every run reproducible unless asked otherwise; every rank must see the same seed (the
 * launcher and srun pass the same environment to all of them, and `world.ensemble()` checks).
 */
import { UsageError } from "../errors.js";
import { checkKey, parseSeed, type RngSeed } from "./key.js";

/** The seed when neither `init({ seed })` nor `ZMPI_SEED` gives one. */
export const DEFAULT_SEED = 0;

/** `option`, else `env.ZMPI_SEED` (decimal integers become integers), else {@link DEFAULT_SEED}. */
export function resolveSeed(option: RngSeed | undefined, env: Record<string, string | undefined> = process.env): RngSeed {
  if (option !== undefined) {
    checkKey(option, "init({ seed })");
    return option;
  }
  const raw = env.ZMPI_SEED;
  if (raw === undefined || raw.trim() === "") return DEFAULT_SEED;
  const s = parseSeed(raw);
  if (typeof s === "string" && s.length > 256) throw new UsageError(`ZMPI_SEED is ${s.length} characters long; use at most 256`, { op: "init" });
  return s;
}
