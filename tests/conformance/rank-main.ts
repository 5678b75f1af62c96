/**
 * The conformance suite as one program per rank, for real processes: started by
 * processes.test.ts through `zmpi launch` and by slurm.test.ts through `srun`. It builds every
 * communicator kind once, runs every group over every kind (the same bodies and order on every
 * rank), and prints one `CONFORMANCE {…}` line per group with the cases that failed on this rank.
 *
 * A case that leaves the ranks out of step (an exception inside a collective, a timeout, a
 * mismatch) ends the job after its group's line: the runner starts a new job from the next group
 * (`CONFORMANCE_FROM`), so one broken case costs one restart, not the rest of the report.
 *
 * Environment: CONFORMANCE_FROM (first group index, default 0), CONFORMANCE_WORLD_DEPTH
 * ("lite" default, or "full") for the world's groups; every other kind runs at "lite".
 * CONFORMANCE_KINDS and CONFORMANCE_THRESHOLDS: the job's plan (see `planEnv` in groups.ts).
 */
import { init } from "../../src/index.js";
import { errorText } from "./check.js";
import { plan, planFromEnv } from "./groups.js";
import { makeComm, runGroup, type Depth, type Kind } from "./plan.js";
import { LINE, type Line } from "./report.js";

const world = await init({ onFailure: "throw" });
const from = Number(process.env.CONFORMANCE_FROM ?? 0);
const worldDepth = (process.env.CONFORMANCE_WORLD_DEPTH ?? "lite") as Depth;
const print = (l: Line) => console.log(LINE + JSON.stringify(l));

let fatal = false;
try {
  const comms = new Map<Kind, Awaited<ReturnType<typeof makeComm>>>();
  const steps = plan(world.size, planFromEnv(process.env));
  for (const kind of new Set(steps.map((s) => s.kind))) comms.set(kind, await makeComm(world, kind));
  for (const step of steps) {
    if (step.g < from) continue;
    const comm = comms.get(step.kind) ?? null;
    if (comm === null) {
      print({ g: step.g, kind: step.kind, group: step.group.name, absent: true });
      continue;
    }
    const res = await runGroup(step.group, comm, step.kind, { level: "process", depth: step.kind === "world" ? worldDepth : "lite" });
    print({ g: step.g, kind: step.kind, group: step.group.name, res });
    if (res.fatal !== undefined) {
      fatal = true;
      break;
    }
  }
} catch (e) {
  // Building the communicators failed: nothing after it can run.
  print({ g: from, kind: "world", group: "(setup)", res: { cases: 1, failures: [{ case: "make the communicators", message: errorText(e) }], fatal: errorText(e) } });
  fatal = true;
}
if (fatal) {
  // The ranks are out of step: leave without finalize (a collective), the runner starts over.
  process.exit(3);
}
print({ g: -1, kind: "world", group: "(end)" });
await world.finalize();
