// The data path across nodes under real srun on the local cluster: one task on each of n1 and n2,
// arrays from 8 B to 16 MiB both ways, over the authenticated TCP link and, with ZMPI_TCP_LINK=0,
// over ZeroMQ with CURVE.
import { describe, expect, it } from "vitest";
import { slurmSkipReason, srunCapture } from "../helpers/slurm.js";

const skipReason = slurmSkipReason();
if (skipReason) console.warn(`skipped: ${skipReason}`);

describe.skipIf(skipReason !== null)("the TCP data path under srun -N2", () => {
  for (const [link, via] of [
    ["1", "tcp-stream"],
    ["0", "zmq"],
  ] as const) {
    it(`ZMPI_TCP_LINK=${link}: every size arrives intact both ways, over ${via}`, async () => {
      const r = await srunCapture(["--label", "-N2", "--ntasks-per-node=1", process.execPath, "--import", "tsx", "tests/fixtures/tcp-link.ts"], 120_000, { ZMPI_TCP_LINK: link });
      expect(r.code, r.out).toBe(0);
      for (const t of [0, 1]) {
        expect(r.out, `task ${t}`).toMatch(new RegExp(`^\\s*${t}: ok exchange`, "m"));
        expect(r.out, `task ${t}`).toMatch(new RegExp(`^\\s*${t}: via ${via} `, "m"));
      }
    }, 150_000);
  }
});
