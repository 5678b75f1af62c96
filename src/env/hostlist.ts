/**
 * Slurm hostlist expressions (`n[1-3],x5`, `node[001-004,007]`, `rack[1-2]-n[01-02]`).
 *
 * zmpi parses these itself so that finding the coordinator needs no `scontrol` (which may be
 * missing on compute nodes or slow under load); `tests/slurm/hostlist-scontrol.test.ts` checks
 * that we agree with `scontrol show hostnames`.
 */

import { UsageError } from "../errors.js";

/**
 * Largest number of hosts one hostlist may expand to. A typo such as `n[1-100000000]` would
 * otherwise allocate gigabytes before anything useful fails; the biggest real clusters are far
 * below this.
 */
export const MAX_HOSTLIST_HOSTS = 1_000_000;

/** One `lo-hi` (or single `lo`) item inside brackets. */
interface Range {
  lo: number;
  hi: number;
  /** Zero-padding width; Slurm takes it from the low bound's digits only. */
  width: number;
}

/** A host pattern: literal text interleaved with bracket groups. */
type Part = string | Range[];

const SEPARATOR = /[\s,]/;

function fail(input: string, why: string): never {
  throw new UsageError(`invalid hostlist "${input}": ${why}`);
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/** Splits at top-level commas/whitespace; commas inside brackets belong to the bracket. */
function splitTokens(input: string): string[] {
  const tokens: string[] = [];
  let current = "";
  let inBracket = false;
  for (const ch of input) {
    if (ch === "[") {
      if (inBracket) fail(input, "nested '['");
      inBracket = true;
    } else if (ch === "]") {
      if (!inBracket) fail(input, "']' without a matching '['");
      inBracket = false;
    } else if (!inBracket && SEPARATOR.test(ch)) {
      if (current) tokens.push(current);
      current = "";
      continue;
    }
    current += ch;
  }
  if (inBracket) fail(input, "'[' is never closed");
  if (current) tokens.push(current);
  if (tokens.length === 0) fail(input, "no host names in it");
  return tokens;
}

function parseNumber(input: string, digits: string): number {
  if (!/^\d+$/.test(digits)) fail(input, `"${digits}" is not a number`);
  const n = Number(digits);
  if (!Number.isSafeInteger(n)) fail(input, `number ${digits} is too large`);
  return n;
}

function parseBracket(input: string, body: string): Range[] {
  if (body === "") fail(input, "empty brackets '[]'");
  return body.split(",").map((item): Range => {
    if (item === "") fail(input, "empty item in brackets");
    const dash = item.indexOf("-");
    if (dash < 0) {
      const lo = parseNumber(input, item);
      return { lo, hi: lo, width: item.length };
    }
    const loStr = item.slice(0, dash);
    const hiStr = item.slice(dash + 1);
    if (loStr === "" || hiStr === "") fail(input, `incomplete range "${item}"`);
    const lo = parseNumber(input, loStr);
    const hi = parseNumber(input, hiStr);
    if (lo > hi) fail(input, `range ${item} goes downwards`);
    return { lo, hi, width: loStr.length };
  });
}

function parseToken(input: string, token: string): Part[] {
  const parts: Part[] = [];
  let rest = token;
  while (rest.length > 0) {
    const open = rest.indexOf("[");
    if (open < 0) {
      parts.push(rest);
      break;
    }
    if (open > 0) parts.push(rest.slice(0, open));
    // splitTokens guarantees brackets are balanced and not nested.
    const close = rest.indexOf("]", open);
    parts.push(parseBracket(input, rest.slice(open + 1, close)));
    rest = rest.slice(close + 1);
  }
  return parts;
}

function countOf(parts: Part[]): number {
  let count = 1;
  for (const part of parts) {
    if (typeof part === "string") continue;
    count *= part.reduce((sum, r) => sum + (r.hi - r.lo + 1), 0);
  }
  return count;
}

/**
 * Slurm's nesting of bracket groups, slowest first. Slurm treats the last group as the host
 * number and peels the others off the prefix from the right, recursing for each value, so
 * `a[1-2]b[1-2]c[1-2]` varies `b` slowest, then `a`, then `c` (`a1b1c1, a1b1c2, a2b1c1, ...`).
 * For one or two groups this is plain "last varies fastest".
 */
function slurmGroupOrder(groups: number[]): number[] {
  if (groups.length <= 1) return groups;
  return [...groups.slice(0, -1).reverse(), groups[groups.length - 1]!];
}

function expandParts(parts: Part[], out: string[]): void {
  const choices: string[][] = parts.map((part) => {
    if (typeof part === "string") return [part];
    const values: string[] = [];
    for (const r of part) for (let n = r.lo; n <= r.hi; n++) values.push(pad(n, r.width));
    return values;
  });
  const groups = parts.flatMap((part, i) => (typeof part === "string" ? [] : [i]));
  const order = slurmGroupOrder(groups);
  const index = new Array<number>(choices.length).fill(0);
  // Odometer over the groups in Slurm's order; the last entry of `order` turns fastest.
  for (;;) {
    // Every index below is in range: `index` and `choices` have one entry per part, `order`
    // holds part numbers, and k stays in 0..order.length-1 inside the loop.
    out.push(choices.map((c, i) => c[index[i]!]).join(""));
    let k = order.length - 1;
    while (k >= 0 && ++index[order[k]!]! === choices[order[k]!]!.length) index[order[k--]!] = 0;
    if (k < 0) return;
  }
}

/**
 * Expands a Slurm hostlist expression into host names, in Slurm's order.
 *
 * - Commas and whitespace separate entries; commas inside brackets separate ranges.
 * - `n[01-10]` is zero-padded to the low bound's width (`n01`..`n10`); `n[1-010]` gives `n1`..`n10`.
 * - Several bracket groups multiply, the last varying fastest (`r[1-2]-n[1-2]` → `r1-n1, r1-n2, r2-n1, r2-n2`);
 *   with three or more groups the order is Slurm's own (see `slurmGroupOrder`), checked against
 *   `scontrol show hostnames`.
 * - Text after a bracket is kept (`gpu-[1-2]-ib` → `gpu-1-ib, gpu-2-ib`, as in Slurm 23.11).
 * - Duplicates are kept, in order.
 *
 * @throws UsageError quoting the input when it is empty, has unbalanced or nested brackets,
 *   non-numeric or downward ranges, or would expand to more than {@link MAX_HOSTLIST_HOSTS} hosts.
 */
export function expandHostlist(input: string): string[] {
  const patterns = splitTokens(input).map((token) => parseToken(input, token));
  let total = 0;
  for (const parts of patterns) {
    total += countOf(parts);
    if (total > MAX_HOSTLIST_HOSTS) {
      fail(input, `expands to more than ${MAX_HOSTLIST_HOSTS.toLocaleString("en-US")} hosts (the limit)`);
    }
  }
  const hosts: string[] = [];
  for (const parts of patterns) expandParts(parts, hosts);
  return hosts;
}

/** A run of hosts `prefix + pad(lo..hi, width)`. */
interface Run extends Range {
  loDigits: string;
}

const SPLIT_NUMBER = /^(.*?)(\d+)$/;

function checkHostName(host: string): void {
  if (host === "" || /[\s,[\]]/.test(host)) {
    throw new UsageError(`cannot put host name "${host}" in a hostlist: it is empty or contains a separator or bracket`);
  }
}

function formatRuns(prefix: string, runs: Run[]): string {
  const [first] = runs;
  if (runs.length === 1 && first!.lo === first!.hi) return prefix + first!.loDigits;
  const items = runs.map((r) => (r.lo === r.hi ? r.loDigits : `${r.loDigits}-${pad(r.hi, r.width)}`));
  return `${prefix}[${items.join(",")}]`;
}

/**
 * Compresses host names into a Slurm hostlist expression, the inverse of {@link expandHostlist}.
 *
 * Order is kept: only hosts that are next to each other in `hosts` and share a prefix are
 * merged, and a run only grows while the number goes up by one at the same zero-padding
 * (`n1,n2,n3,x5` → `n[1-3],x5`; `n1,n3` → `n[1,3]`; `n2,n1` → `n[2,1]`). Nothing is sorted,
 * so `expandHostlist(compressHostlist(h))` equals `h` for every non-empty list. Names with
 * several numbers are only merged on the last one. An empty list gives `""`.
 *
 * @throws UsageError for a host name that is empty or contains `[`, `]`, `,` or whitespace.
 */
export function compressHostlist(hosts: readonly string[]): string {
  const out: string[] = [];
  let prefix: string | null = null;
  let runs: Run[] = [];
  const flush = (): void => {
    if (prefix !== null) out.push(formatRuns(prefix, runs));
    prefix = null;
    runs = [];
  };
  for (const host of hosts) {
    checkHostName(host);
    const m = SPLIT_NUMBER.exec(host);
    const n = m ? Number(m[2]) : NaN;
    // Names without a trailing number, with no prefix (`[1-3]` is not portable across Slurm
    // versions) or with a number too big to count exactly are written as they are.
    if (!m || m[1] === "" || !Number.isSafeInteger(n)) {
      flush();
      out.push(host);
      continue;
    }
    // Both groups of SPLIT_NUMBER always take part in a match.
    const hostPrefix = m[1]!;
    const digits = m[2]!;
    if (hostPrefix !== prefix) {
      flush();
      prefix = hostPrefix;
    }
    const last = runs[runs.length - 1];
    if (last && n === last.hi + 1 && pad(n, last.width) === digits) {
      last.hi = n;
    } else {
      runs.push({ lo: n, hi: n, width: digits.length, loDigits: digits });
    }
  }
  flush();
  return out.join(",");
}
