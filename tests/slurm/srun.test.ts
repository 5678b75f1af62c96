/**
 * zmpi under the real `srun`/`sbatch` of the local Slurm cluster (../shared/slurm-local/: nodes
 * n1 and n2 on 127.0.2.1 and 127.0.2.2, 4 CPUs each). Every rank is a real task started by a
 * slurmd; nothing is faked.
 *
 * The fixtures import "zmpi", which resolves to dist/: run `npm run build` first.
 *
 * Every command runs with a deadline (on expiry: SIGTERM, then SIGKILL, and `scancel` of a batch
 * job), so a hang fails the test instead of blocking the run.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deriveCoordinatorPort } from "../../src/env/coord-port.js";
import { cleanEnv, slurmSkipReason } from "../helpers/slurm.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");
const fixture = (name: string) => join(ROOT, "tests", "fixtures", name);
const NODE = process.execPath;

const skipReason = slurmSkipReason();
if (skipReason) console.warn(`skipped: ${skipReason}`);

/** A fresh job secret, as the sbatch templates make one. */
const secret = () => `test-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}-secret`;

interface CmdResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  endedAt: number;
  timedOut: boolean;
}

/**
 * Runs a command to completion or to its deadline. On the deadline the command gets SIGTERM (srun
 * then cancels its step), SIGKILL 3 s later, and a batch job it submitted is cancelled.
 */
function run(cmd: string, args: string[], opts: { env?: Record<string, string>; timeoutMs: number; cwd?: string }): Promise<CmdResult> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 3000).unref();
      const job = /Submitted batch job (\d+)/.exec(stdout)?.[1];
      if (job) spawnSync("scancel", [job], { timeout: 5000 });
    }, opts.timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0, endedAt: Date.now(), timedOut });
    });
  });
}

/** `srun --label` output: task number → that task's lines (label removed). */
function byTask(text: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const line of text.split("\n")) {
    const m = /^\s*(\d+): (.*)$/.exec(line);
    if (!m) continue;
    const task = Number(m[1]);
    if (!out.has(task)) out.set(task, []);
    out.get(task)!.push(m[2]!);
  }
  return out;
}

interface Info {
  rank: number;
  size: number;
  node: string;
  nodeIndex: number;
  localRank: number;
  localSize: number;
  method: string;
  jobId: string;
  stepId: string;
  coordinator: { host: string; port: number; portSource: string; runsHere: boolean };
  tcp: string | null;
  t: number;
  slurm: { jobId: string | null; stepId: string | null; procid: string | null; nodename: string | null };
}

/** The `info {...}` lines of slurm-info.ts, by task label (or all under -1 when unlabelled). */
function infos(text: string, labelled = true): Info[] {
  const lines = labelled
    ? [...byTask(text).entries()].flatMap(([task, ls]) => ls.filter((l) => l.startsWith("info ")).map((l) => ({ task, l })))
    : text
        .split("\n")
        .filter((l) => l.startsWith("info "))
        .map((l) => ({ task: -1, l }));
  return lines
    .map(({ task, l }) => {
      const info = JSON.parse(l.slice("info ".length)) as Info;
      if (labelled) expect(info.rank, `task ${task} reports rank ${info.rank}`).toBe(task);
      return info;
    })
    .sort((a, b) => a.rank - b.rank);
}

const NODE_ADDR: Record<string, string> = { n1: "127.0.2.1", n2: "127.0.2.2" };

/** Checks a step's world against the layout Slurm was asked for (`nodeOf[rank]` = node name). */
function expectStep(list: Info[], nodeOf: string[]): void {
  const size = nodeOf.length;
  expect(list.map((i) => i.rank)).toEqual([...Array(size).keys()]);
  const nodes = [...new Set(nodeOf)];
  const jobId = list[0]!.slurm.jobId!;
  const stepId = list[0]!.slurm.stepId!;
  expect(jobId).toMatch(/^\d+$/);
  expect(stepId).toMatch(/^\d+$/);
  const port = deriveCoordinatorPort(jobId, stepId);
  expect(port).toBe(61440 + (Number(jobId) % 256) * 16 + (Number(stepId) % 16));
  for (const info of list) {
    const node = nodeOf[info.rank]!;
    const onNode = nodeOf
      .map((n, r) => [n, r] as const)
      .filter(([n]) => n === node)
      .map(([, r]) => r);
    expect(info, `rank ${info.rank}`).toMatchObject({
      size,
      method: "slurm",
      node,
      nodeIndex: nodes.indexOf(node),
      localRank: onNode.indexOf(info.rank),
      localSize: onNode.length,
      jobId,
      stepId,
      coordinator: { host: nodes[0], port, portSource: "derived", runsHere: info.rank === 0 },
      slurm: { jobId, stepId, procid: String(info.rank), nodename: node },
    });
    if (size > 1) {
      // Each rank binds on its own node's address, not on loopback or the coordinator's node.
      expect(info.tcp, `rank ${info.rank} on ${node}`).toMatch(new RegExp(`^tcp://${NODE_ADDR[node]!.replace(/\./g, "\\.")}:\\d+$`));
    } else {
      expect(info.tcp).toBeNull();
    }
  }
}

/** Every task printed "ring ok" and "finalized". */
function expectFinished(text: string, size: number): void {
  const tasks = byTask(text);
  for (let r = 0; r < size; r++) {
    const lines = tasks.get(r) ?? [];
    expect(lines, `task ${r}`).toContain(`ring ok ${r}`);
    expect(
      lines.some((l) => l.startsWith(`finalized ${r} t=`)),
      `task ${r} finalized:\n${lines.join("\n")}`,
    ).toBe(true);
  }
}

const srunNode = (args: string[], script: string) => ["--label", ...args, NODE, "--import", "tsx", script];

// The jobs of the first five tests run at the same time (the cluster shares CPUs between jobs),
// mostly to overlap sbatch --wait's polling (it looks at the job after 2 s, then after 10 s);
// the fault tests, which measure how fast a job ends, run alone after them.
describe.skipIf(skipReason !== null)("zmpi under the local Slurm cluster", () => {
  let work = "";

  beforeAll(() => {
    const dist = join(ROOT, "dist", "src", "index.js");
    if (!existsSync(dist)) throw new Error(`${dist} is missing: the fixtures import "zmpi"; run "npm run build" first`);
    work = mkdtempSync(join(tmpdir(), "zmpi-srun-test-"));
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it.concurrent("srun -N2 -n4 (layout 3,1) passes the point-to-point suite on every rank, with a per-user secret file created on first use", async () => {
    // No ZMPI_SECRET: the four ranks on two nodes race to create ~/.zmpi/secret in a fresh home
    // (shared, as a home directory is on a cluster) and must all end up with the same one.
    const home = join(work, "home");
    const r = await run("srun", srunNode(["-N2", "-n4"], fixture("p2p-suite.ts")), { env: cleanEnv({ HOME: home }), timeoutMs: 40_000 });
    expect(r.timedOut, r.stderr).toBe(false);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const tasks = byTask(r.stdout);
    const checks = [
      "ordering",
      "ordering-mixed",
      "tags",
      "any-source",
      "payload-types",
      "send-buffer-reuse",
      "recv-out",
      "self-and-requests",
      "sendrecv-probe",
      "bad-input",
      "finalize",
    ];
    for (let t = 0; t < 4; t++) {
      const oks = (tasks.get(t) ?? []).filter((l) => l.startsWith("ok ")).map((l) => l.slice(3));
      expect(oks, `task ${t}`).toEqual(checks);
    }
    expect([...tasks.keys()].sort()).toEqual([0, 1, 2, 3]);
    const st = statSync(join(home, ".zmpi", "secret"));
    expect(st.mode & 0o777).toBe(0o600);
    expect(statSync(join(home, ".zmpi")).mode & 0o777).toBe(0o700);
  }, 60_000);

  it.concurrent("srun -N2 --ntasks-per-node=2: Slurm's layout, node names, coordinator n1 at the derived port, each rank bound on its node's address", async () => {
    const r = await run("srun", srunNode(["-N2", "--ntasks-per-node=2"], fixture("slurm-info.ts")), { env: cleanEnv({ ZMPI_SECRET: secret() }), timeoutMs: 30_000 });
    expect(r.timedOut, r.stderr).toBe(false);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const list = infos(r.stdout);
    expectStep(list, ["n1", "n1", "n2", "n2"]);
    expectFinished(r.stdout, 4);
  }, 40_000);

  it.concurrent("srun -n1 is a world of size 1 that works", async () => {
    const r = await run("srun", srunNode(["-n1"], fixture("slurm-info.ts")), { env: cleanEnv({ ZMPI_SECRET: secret() }), timeoutMs: 20_000 });
    expect(r.timedOut, r.stderr).toBe(false);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const list = infos(r.stdout);
    expectStep(list, ["n1"]);
    expectFinished(r.stdout, 1);
    expect(r.stderr).not.toMatch(/zmpi:/);
  }, 30_000);

  it.concurrent("sbatch: the batch shell alone is a size-1 world with a warning; srun steps 0 (4 ranks) and 1 (-N1 -n1) each get their own world and port", async () => {
    const script = join(work, "steps.sh");
    const info = fixture("slurm-info.ts");
    writeFileSync(
      script,
      [
        "#!/bin/bash",
        `cd ${ROOT}`,
        'echo "== batch"',
        `${NODE} --import tsx ${info}`,
        'echo "== batch rc=$?"',
        `srun --label ${NODE} --import tsx ${info}`,
        'echo "== step0 rc=$?"',
        `srun -N1 -n1 --label ${NODE} --import tsx ${info}`,
        'echo "== step1 rc=$?"',
        "",
      ].join("\n"),
    );
    const r = await run("sbatch", ["--wait", "-N2", "--ntasks-per-node=2", "-o", join(work, "out-%j.txt"), script], {
      env: cleanEnv({ ZMPI_SECRET: secret() }),
      timeoutMs: 45_000,
    });
    expect(r.timedOut, r.stderr).toBe(false);
    const job = /Submitted batch job (\d+)/.exec(r.stdout)?.[1];
    expect(job, r.stdout + r.stderr).toBeDefined();
    expect(r.code, r.stderr).toBe(0);
    const out = readFileSync(join(work, `out-${job}.txt`), "utf8");
    const [batch, step0, step1] = out.split(/^== (?:batch|step0|step1) rc=.*$/m);
    expect(out, out).toMatch(/^== batch rc=0$/m);
    expect(out, out).toMatch(/^== step0 rc=0$/m);
    expect(out, out).toMatch(/^== step1 rc=0$/m);

    // (a) node in the batch shell: not a task of any step, so not "rank 0 of 4".
    expect(batch).toMatch(/zmpi: running inside a Slurm allocation \(job \d+\) but not under srun: .*world of size 1/);
    const solo = infos(batch!, false);
    expect(solo).toHaveLength(1);
    expect(solo[0]).toMatchObject({ rank: 0, size: 1, method: "single", jobId: job, node: "n1", tcp: null, slurm: { jobId: job, stepId: null } });
    expect(batch).toMatch(/^ring ok 0$/m);

    // (b) srun in the script: step 0, 2 ranks per node.
    const s0 = infos(step0!);
    expect(s0[0]?.stepId).toBe("0");
    expect(s0[0]?.jobId).toBe(job);
    expectStep(s0, ["n1", "n1", "n2", "n2"]);
    expectFinished(step0!, 4);

    // (c) a second step of one task: step 1, its own port.
    const s1 = infos(step1!);
    expect(s1[0]?.stepId).toBe("1");
    expectStep(s1, ["n1"]);
    expectFinished(step1!, 1);
    expect(s1[0]!.coordinator.port).not.toBe(s0[0]!.coordinator.port);
  }, 60_000);

  it.concurrent("two steps of one job running at the same time get different coordinator ports and both succeed", async () => {
    const script = join(work, "two-steps.sh");
    const info = fixture("slurm-info.ts");
    const step = (name: string) => `srun -N2 -n2 --exact --label ${NODE} --import tsx ${info} > ${join(work, `two-${name}-$SLURM_JOB_ID.txt`)} 2>&1 &`;
    writeFileSync(script, ["#!/bin/bash", `cd ${ROOT}`, step("a"), "a=$!", step("b"), "b=$!", "wait $a; ra=$?", "wait $b; rb=$?", 'echo "rc a=$ra b=$rb"', ""].join("\n"));
    const r = await run("sbatch", ["--wait", "-N2", "--ntasks-per-node=2", "-o", join(work, "two-%j.txt"), script], {
      // Each rank stays up 1.5 s after init, so the two steps' worlds are alive at the same time.
      env: cleanEnv({ ZMPI_SECRET: secret(), HOLD_MS: "1500" }),
      timeoutMs: 45_000,
    });
    expect(r.timedOut, r.stderr).toBe(false);
    const job = /Submitted batch job (\d+)/.exec(r.stdout)?.[1];
    expect(job, r.stdout + r.stderr).toBeDefined();
    const outA = readFileSync(join(work, `two-a-${job}.txt`), "utf8");
    const outB = readFileSync(join(work, `two-b-${job}.txt`), "utf8");
    expect(readFileSync(join(work, `two-${job}.txt`), "utf8"), `${outA}\n${outB}`).toMatch(/^rc a=0 b=0$/m);
    expect(r.code).toBe(0);
    const a = infos(outA);
    const b = infos(outB);
    expectStep(a, ["n1", "n2"]);
    expectStep(b, ["n1", "n2"]);
    expectFinished(outA, 2);
    expectFinished(outB, 2);
    expect(new Set([a[0]!.stepId, b[0]!.stepId])).toEqual(new Set(["0", "1"]));
    expect(a[0]!.coordinator.port).not.toBe(b[0]!.coordinator.port);
    // They really overlapped: both worlds were up before either finished.
    const end = (text: string) => Math.min(...[...text.matchAll(/finalized \d+ t=(\d+)/g)].map((m) => Number(m[1])));
    const start = (list: Info[]) => Math.max(...list.map((i) => i.t));
    expect(Math.max(start(a), start(b))).toBeLessThan(Math.min(end(outA), end(outB)));
  }, 60_000);
  describe("a rank that kills itself (faults.ts MODE=kill: the last rank SIGKILLs itself after a barrier)", () => {
    it("srun -K ends the step at once: non-zero within 10 s, and the output names the dead task", async () => {
      const r = await run("srun", srunNode(["-K", "-N2", "-n4", "--export=ALL,MODE=kill"], fixture("faults.ts")), {
        // MODE in srun's own environment too: vitest sets MODE=test, and Slurm 22.05's
        // --export=ALL,MODE=kill does not override a variable that is already set.
        env: cleanEnv({ ZMPI_SECRET: secret(), MODE: "kill" }),
        timeoutMs: 30_000,
      });
      expect(r.timedOut, r.stderr).toBe(false);
      expect(r.code, `${r.stdout}\n${r.stderr}`).not.toBe(0);
      expect(r.code).not.toBeNull();
      const dying = /dying at (\d+)/.exec(r.stdout)?.[1];
      expect(dying, r.stdout).toBeDefined();
      expect(r.endedAt - Number(dying)).toBeLessThan(10_000);
      const all = `${r.stdout}\n${r.stderr}`;
      // srun's own report, and whatever the survivors managed to say before they were killed.
      expect(r.stderr).toMatch(/srun: error: n2: task 3: Killed/);
      for (const line of all.split("\n").filter((l) => /caught /.test(l))) expect(line).toMatch(/caught RankFailedError: .*rank 3 \(pid \d+ on n2\)/);
      expect(all).not.toMatch(/ERROR/);
    }, 40_000);

    it("plain srun (no -K): the survivors detect the death themselves and exit non-zero within 10 s", async () => {
      const r = await run("srun", srunNode(["-N2", "-n4", "--export=ALL,MODE=kill"], fixture("faults.ts")), {
        // MODE in srun's own environment too: vitest sets MODE=test, and Slurm 22.05's
        // --export=ALL,MODE=kill does not override a variable that is already set.
        env: cleanEnv({ ZMPI_SECRET: secret(), MODE: "kill" }),
        timeoutMs: 30_000,
      });
      expect(r.timedOut, r.stderr).toBe(false);
      expect(r.code, `${r.stdout}\n${r.stderr}`).not.toBe(0);
      // From the victim's death to the end of the step (start-up excluded: it alone takes seconds
      // under load). One clock: the pretend nodes are this machine.
      const dying = /dying at (\d+)/.exec(r.stdout)?.[1];
      expect(dying, r.stdout).toBeDefined();
      expect(r.endedAt - Number(dying)).toBeLessThan(10_000);
      const tasks = byTask(r.stdout);
      for (const t of [0, 1, 2]) {
        expect((tasks.get(t) ?? []).join("\n"), `task ${t}`).toMatch(/^caught RankFailedError: recv on world: rank 3 \(pid \d+ on n2\) .*(closed|died)/m);
      }
      // Nobody was killed by srun: tasks 0-2 (n1) exited by themselves, with status 1 (srun
      // reports them in one line, "tasks 0-2", or in several when they exit apart).
      expect(r.stderr).toMatch(/srun: error: n2: task 3: Killed/);
      const exited = [...r.stderr.matchAll(/srun: error: n1: tasks? ([\d,-]+): Exited with exit code 1/g)].flatMap((m) =>
        m[1]!.split(",").flatMap((part) => {
          const [lo, hi = lo] = part.split("-").map(Number);
          return Array.from({ length: hi! - lo! + 1 }, (_, i) => lo! + i);
        }),
      );
      expect(exited.sort(), r.stderr).toEqual([0, 1, 2]);
      expect(`${r.stdout}\n${r.stderr}`).not.toMatch(/ERROR/);
    }, 40_000);
  });
});
