/**
 * `ZMPI_ALGORITHM` and `ZMPI_ALG_<NAME>`, checked by `init()` against the algorithms each
 * collective has (collectives/select.ts's ALGORITHMS). The collectives read them at their first
 * call; without this check a typo in the global form (`ZMPI_ALGORITHM=rnig`) would be ignored by
 * every collective, and one in a per-collective form would fail only at that collective's first
 * call. Here it is a UsageError naming the variable before anything is bound.
 */
import { ALGORITHMS, type CollectiveName } from "../collectives/select.js";
import { UsageError } from "../errors.js";

const NAMES = Object.keys(ALGORITHMS) as CollectiveName[];
const fits = (name: CollectiveName, alg: string) => alg === "auto" || (ALGORITHMS[name] as readonly string[]).includes(alg);
const choices = (name: CollectiveName) => `${ALGORITHMS[name].join(", ")} or auto`;

function refuse(variable: string, value: string, why: string): never {
  throw new UsageError(`${variable}=${JSON.stringify(value)}: ${why}`, { op: "init" });
}

/** Throws a UsageError naming the variable when a forced algorithm does not exist. */
export function checkAlgorithmSettings(env: Readonly<Record<string, string | undefined>>): void {
  const global = env.ZMPI_ALGORITHM;
  for (const part of (global ?? "").split(",")) {
    if (part.trim() === "") continue;
    if (!part.includes("=")) {
      const alg = part.trim();
      if (!NAMES.some((n) => fits(n, alg))) refuse("ZMPI_ALGORITHM", global!, `no collective has an algorithm "${alg}"`);
      continue;
    }
    const [k = "", alg = ""] = part.split("=").map((s) => s.trim());
    const name = NAMES.find((n) => n === k);
    if (!name) refuse("ZMPI_ALGORITHM", global!, `"${k}" is not a collective with a choice of algorithm (${NAMES.join(", ")})`);
    if (!fits(name, alg)) refuse("ZMPI_ALGORITHM", global!, `${name} has no algorithm "${alg}" (${choices(name)})`);
  }
  for (const [variable, value] of Object.entries(env)) {
    if (!variable.startsWith("ZMPI_ALG_") || value === undefined || value === "") continue;
    const name = NAMES.find((n) => `ZMPI_ALG_${n.toUpperCase()}` === variable);
    if (!name) refuse(variable, value, `no collective is called ${variable.slice("ZMPI_ALG_".length)} (${NAMES.map((n) => `ZMPI_ALG_${n.toUpperCase()}`).join(", ")})`);
    if (!fits(name, value)) refuse(variable, value, `${name} has no algorithm "${value}" (${choices(name)})`);
  }
}
