// Holders of the secret (issue 10, rows B2, B3, C2): a process with only the job's secret, and
// ranks turned hostile, which hold everything a rank holds. See tests/fixtures/holder.ts.
import { describe, expect, it } from "vitest";
import { linesOf, runJob } from "../helpers/run.js";

function json(lines: string[], prefix: string): Record<string, unknown> {
  const l = lines.find((x) => x.startsWith(`${prefix} `));
  expect(l, `no "${prefix}" line`).toBeDefined();
  return JSON.parse(l!.slice(prefix.length + 1)) as Record<string, unknown>;
}

describe.skipIf(process.platform !== "linux")("holders of the secret", () => {
  it("an outsider with the secret reaches no rank; hostile ranks' claims, far-ahead numbers, random frames and misplaced single-copy headers are dropped and counted; the job finishes", async () => {
    const r = await runJob("holder.ts", 3);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const h0 = json(linesOf(r.stdout, 0), "holder");
    const h1 = json(linesOf(r.stdout, 1), "holder");
    const h2 = json(linesOf(r.stdout, 2), "holder");
    const s1 = json(linesOf(r.stdout, 1), "stats") as { malformed: number };
    // Only the secret: the rank's ZeroMQ port and Unix socket admit nothing it can derive.
    expect(h0.outsider).toEqual({ attempts: 8, admitted: 0 });
    // B2: a 2^40-byte claim, and a 3000 MiB claim its header does not back, end the connection at once.
    expect(h0.claim2e40).toBe(true);
    expect(h0.claimUnbacked).toBe(true);
    // B3: numbers far ahead, and past the held bound, are dropped without ending the connection.
    expect(h0.farAhead).toBe(true);
    // Random frames: each ends its connection.
    expect(h0.fuzzStreamClosed).toBe(40);
    // C2: a single-copy header naming rank 0 on rank 2's proved connection, or on ZeroMQ, is refused;
    // nothing the attackers sent was delivered.
    expect(h2.c2Stream).toBe(true);
    expect(h1.delivered).toBe(false);
    expect(s1.malformed).toBeGreaterThanOrEqual(900);
    for (let rank = 0; rank < 3; rank++) expect(linesOf(r.stdout, rank)).toContain("finished");
    expect(r.stdout).not.toMatch(/ERROR/);
    console.log(
      `holders of the secret: outsider admitted 0 of ${(h0.outsider as { attempts: number }).attempts}; rank 1 survived a 2^40-byte and an unbacked 3000 MiB claim, ` +
        `3 far-ahead numbers and 5000 held past the bound, 80 random frames and 2 misplaced single-copy headers: ${s1.malformed} dropped and counted, none delivered; job finished in ${(r.ms / 1000).toFixed(1)} s`,
    );
  }, 120_000);
});
