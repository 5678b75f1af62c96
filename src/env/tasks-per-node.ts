/**
 * Slurm's compressed per-node task counts (`SLURM_TASKS_PER_NODE`, `SLURM_STEP_TASKS_PER_NODE`),
 * e.g. `2(x3),1` for three nodes with two tasks and one node with one.
 */

import { UsageError } from "../errors.js";
import { MAX_HOSTLIST_HOSTS } from "./hostlist.js";

const ITEM = /^(\d+)(?:\(x(\d+)\))?$/;

/**
 * Expands a Slurm tasks-per-node list: `2(x3),1` → `[2, 2, 2, 1]`, `4` → `[4]`, `3,1` → `[3, 1]`.
 * Counts may be 0 (Slurm never writes that for a step, but it is not malformed); repeats must be
 * at least 1.
 *
 * @param value the variable's value.
 * @param varName the variable it came from, named in errors.
 * @throws UsageError naming the variable and quoting the value when it is empty or malformed
 *   (`2(x`, `x3`, `2(x0)`, `-1`), or repeats to more nodes than {@link MAX_HOSTLIST_HOSTS}.
 */
export function parseTasksPerNode(value: string, varName = "SLURM_TASKS_PER_NODE"): number[] {
  const bad = (why: string): never => {
    throw new UsageError(`${varName}="${value}" is not a valid tasks-per-node list (expected e.g. "2(x3),1"): ${why}`);
  };
  if (value.trim() === "") bad("it is empty");
  const counts: number[] = [];
  for (const item of value.split(",")) {
    const m = ITEM.exec(item);
    if (!m) bad(`"${item}" is not N or N(xR)`);
    const count = Number(m![1]);
    const repeat = m![2] === undefined ? 1 : Number(m![2]);
    if (!Number.isSafeInteger(count) || !Number.isSafeInteger(repeat)) bad(`"${item}" is too large`);
    if (repeat < 1) bad(`repeat count in "${item}" must be at least 1`);
    if (counts.length + repeat > MAX_HOSTLIST_HOSTS) bad(`more than ${MAX_HOSTLIST_HOSTS} nodes`);
    for (let i = 0; i < repeat; i++) counts.push(count);
  }
  return counts;
}
