/**
 * Turns what the ranks found into readable failures: one line per failed case, the ranks that
 * saw it, and the message; and reads the lines rank-main.ts prints (through `zmpi launch`'s
 * `[rank] ` prefix or `srun --label`'s `rank: ` prefix) back into per-group results.
 */
import type { Failure } from "./check.js";
import type { GroupResult } from "./plan.js";

/** Most lines a failing test prints (the rest are counted). */
const MAX_LINES = 40;

/**
 * One line per distinct (case, message), naming the ranks that saw it; a message shared by three
 * or more cases (a missing API, say) is one line naming how many and the first. Empty when all
 * passed; the fatal case, if any, comes first.
 */
export function describeFailures(perRank: ReadonlyArray<GroupResult | null | undefined>): string[] {
  const byCase = new Map<string, { f: Failure; ranks: Set<number> }>();
  perRank.forEach((res, rank) => {
    for (const f of res?.failures ?? []) {
      const key = `${f.case}\u0000${f.message}`;
      const e = byCase.get(key) ?? { f, ranks: new Set<number>() };
      e.ranks.add(rank);
      byCase.set(key, e);
    }
  });
  const byMessage = new Map<string, Array<{ f: Failure; ranks: number[] }>>();
  for (const { f, ranks } of byCase.values()) {
    const key = `${[...ranks].join(",")}\u0000${f.message}`;
    if (!byMessage.has(key)) byMessage.set(key, []);
    byMessage.get(key)!.push({ f, ranks: [...ranks] });
  }
  const lines: string[] = [];
  for (const group of byMessage.values()) {
    const { f, ranks } = group[0]!;
    const who = `rank${ranks.length > 1 ? "s" : ""} ${ranks.join(",")}`;
    if (group.length >= 3) lines.push(`${group.length} cases (first: ${f.case}) — ${who}: ${f.message}`);
    else for (const g of group) lines.push(`${g.f.case} — ${who}: ${g.f.message}`);
  }
  lines.sort((a, b) => Number(b.includes("not run: stopped after")) - Number(a.includes("not run: stopped after")));
  if (lines.length > MAX_LINES) return [...lines.slice(0, MAX_LINES), `… and ${lines.length - MAX_LINES} more`];
  return lines;
}

/** Total cases run, as the most any rank ran (non-members of a subgroup run none). */
export function caseCount(perRank: ReadonlyArray<GroupResult | null | undefined>): number {
  return Math.max(0, ...perRank.map((r) => r?.cases ?? 0));
}

/** Marker of rank-main.ts's result lines. */
export const LINE = "CONFORMANCE ";

/** What rank-main.ts prints for one group on one rank. */
export interface Line {
  /** Index of the group in the job's plan. */
  g: number;
  kind: string;
  group: string;
  /** Not a member of this kind's communicator. */
  absent?: boolean;
  res?: GroupResult;
}

/** A job's result lines by rank: `[rank] ` (zmpi launch) or `rank: ` (srun --label) prefixes. */
export function parseLines(stdout: string): Map<number, Line[]> {
  const byRank = new Map<number, Line[]>();
  for (const raw of stdout.split("\n")) {
    const m = /^(?:\[(\d+)\] |\s*(\d+): )(.*)$/.exec(raw);
    if (!m || !m[3]!.startsWith(LINE)) continue;
    const rank = Number(m[1] ?? m[2]);
    let line: Line;
    try {
      line = JSON.parse(m[3]!.slice(LINE.length)) as Line;
    } catch {
      continue;
    }
    if (!byRank.has(rank)) byRank.set(rank, []);
    byRank.get(rank)!.push(line);
  }
  return byRank;
}
