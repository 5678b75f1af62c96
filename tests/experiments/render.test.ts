// zmpi sbatch: configs rendered into sbatch scripts. The templates in slurm/ are outputs of the
// renderer (checked byte for byte), and the script's own shape check (bash) agrees with the
// config check (TypeScript) on every layout tried, run with a stand-in srun.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { render, renderJob } from "../../src/experiments/index.js";
import { parseJob, checkJob, jobSchema } from "../../src/experiments/config.js";
import { effectivePlacement, type Placement } from "../../src/groups/mesh-env.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TEMPLATES = ["single-node", "multi-node", "hybrid-tp-pp"];
const work = mkdtempSync(join(tmpdir(), "zmpi-render-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the templates in slurm/ are rendered from their configs", () => {
  it.each(TEMPLATES)("slurm/%s.sbatch is what zmpi sbatch renders from its .json", async (t) => {
    const cwd = process.cwd();
    process.chdir(ROOT);
    try {
      const [job] = await render(`slurm/${t}.json`);
      const file = readFileSync(join(ROOT, "slurm", `${t}.sbatch`), "utf8");
      expect(job!.script, `regenerate: node launcher/bin.mjs sbatch slurm/${t}.json --dry-run > slurm/${t}.sbatch`).toBe(file);
    } finally {
      process.chdir(cwd);
    }
  });

  it.skipIf(!existsSync(join(ROOT, "dist", "launcher", "cli.js")))("the zmpi sbatch command prints the same bytes (--dry-run)", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "launcher", "bin.mjs"), "sbatch", "slurm/hybrid-tp-pp.json", "--dry-run"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(ROOT, "slurm", "hybrid-tp-pp.sbatch"), "utf8"));
  });
});

/** A stand-in srun that prints its arguments and the mesh it was handed, then exits 0. */
function fakeSrun(): string {
  const bin = join(work, "bin");
  spawnSync("mkdir", ["-p", bin]);
  writeFileSync(
    join(bin, "srun"),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion in the fake srun
    '#!/bin/bash\necho "srun $*"\necho "ZMPI_MESH=$ZMPI_MESH ZMPI_MESH_PLACEMENT=$ZMPI_MESH_PLACEMENT secret=${#ZMPI_SECRET} timeout=$ZMPI_TIMEOUT exp=$ZMPI_EXP_NAME"\n',
  );
  chmodSync(join(bin, "srun"), 0o755);
  return bin;
}

/** Runs a rendered script as the batch step of a job of `nodes` x `perNode` tasks. */
function runScript(script: string, nodes: number, perNode: number, env: Record<string, string> = {}) {
  const path = join(work, `s-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(path, script);
  return spawnSync("bash", [path], {
    encoding: "utf8",
    timeout: 20_000,
    env: { PATH: `${fakeSrun()}:${process.env.PATH}`, SLURM_NTASKS: String(nodes * perNode), SLURM_NTASKS_PER_NODE: String(perNode), SLURM_JOB_NUM_NODES: String(nodes), ...env },
  });
}

describe("rendered scripts", () => {
  const job = parseJob({
    name: "tp-pp",
    description: "TP inside nodes, PP across",
    nodes: 2,
    tasksPerNode: 2,
    mesh: { pp: 2, tp: 2 },
    placement: { pp: "across-nodes" },
    partition: "debug",
    account: "proj-1",
    qos: "normal",
    gres: "gpu:1",
    sbatch: ["--exclusive", "--mail-type=END"],
    env: { GREETING: 'it\'s a "test" $HOME', N: 3 },
    modules: ["gcc/12"],
    container: "apptainer exec --bind /work app.sif",
    program: "examples/inference/serve.ts",
    args: ["--prompts", "16", "two words"],
    nodeOptions: ["--max-old-space-size=4096"],
    time: "00:05:00",
  });

  it("carry every field: #SBATCH lines, modules, container, env (quoted), the program and its arguments", () => {
    const { script, config } = renderJob(job, { jobDir: "/runs/run_1/tp-pp", source: "exp.json" });
    for (const line of [
      "#SBATCH --job-name=tp-pp",
      "#SBATCH --nodes=2",
      "#SBATCH --ntasks-per-node=2",
      "#SBATCH --time=00:05:00",
      "#SBATCH --partition=debug",
      "#SBATCH --account=proj-1",
      "#SBATCH --qos=normal",
      "#SBATCH --gres=gpu:1",
      "#SBATCH --exclusive",
      "#SBATCH --mail-type=END",
      "#SBATCH --output=/runs/run_1/tp-pp/slurm-%j.out",
    ]) {
      expect(script).toMatch(new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}( |$)`, "m"));
    }
    expect(script).toMatch(/^# TP inside nodes, PP across$/m);
    expect(script).toMatch(/^# Rendered by "zmpi sbatch" from exp\.json/m);
    expect(script).toMatch(/^module load gcc\/12$/m);
    expect(script).toContain(`export GREETING='it'\\''s a "test" $HOME'`);
    expect(script).toMatch(/^export ZMPI_EXP_DIR=\/runs\/run_1\/tp-pp$/m);
    expect(script).toMatch(
      /^srun --export=ALL --kill-on-bad-exit=1 --distribution=block apptainer exec --bind \/work app\.sif node --max-old-space-size=4096 --import tsx examples\/inference\/serve\.ts --prompts 16 'two words'$/m,
    );
    expect(config).toMatchObject({
      name: "tp-pp",
      tasks: 4,
      mesh: "pp:2,tp:2",
      placement: "pp:across-nodes,tp:inside-nodes",
      executor: "slurm",
      jobDir: "/runs/run_1/tp-pp",
      script: "job.sbatch",
    });
    expect(spawnSync("bash", ["-n"], { input: script }).status).toBe(0);
  });

  it("run (with a stand-in srun): secret, timeout and mesh reach srun's environment, values with quotes intact", () => {
    mkdirSync(join(work, "job"), { recursive: true });
    const plain = renderJob({ ...job, modules: [], container: undefined }, { jobDir: join(work, "job") });
    const r = runScript(plain.script, 2, 2);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ZMPI_MESH=pp:2,tp:2 ZMPI_MESH_PLACEMENT=pp:across-nodes,tp:inside-nodes secret=48 timeout=600 exp=tp-pp$/m);
    expect(readFileSync(join(work, "job", "job.exit"), "utf8")).toMatch(/^0 \d{4}-\d\d-\d\dT/);
  });

  it("the local executor runs zmpi launch with the job's ranks and pretend nodes instead of srun", () => {
    const { script, scriptName } = renderJob(job, { jobDir: "/runs/r/tp-pp", executor: "local", zmpiBin: "/opt/zmpi/launcher/bin.mjs" });
    expect(scriptName).toBe("job.local.sh");
    expect(script).not.toMatch(/^srun|^module/m);
    expect(script).toMatch(/^node \/opt\/zmpi\/launcher\/bin\.mjs launch -n 4 --nodes 2 examples\/inference\/serve\.ts --prompts 16 'two words'$/m);
    expect(script).toMatch(/^NTASKS=4$/m);
    expect(script).toMatch(/^export NODE_OPTIONS=--max-old-space-size=4096$/m);
  });

  // Layouts × shapes × placements: the bash check refuses exactly what the config check refuses.
  const layouts: Array<[number, number]> = [
    [1, 4],
    [2, 1],
    [2, 2],
    [2, 4],
    [4, 2],
    [3, 2],
  ];
  const shapes: Array<Record<string, number>> = [{ tp: 4 }, { pp: 2, tp: 2 }, { pp: 2, dp: 2, tp: 2 }, { dp: 2, tp: 4 }, { tp: 2 }, { pp: 4, tp: 2 }, { pp: 3, tp: 2 }];
  const placements = [{}, { tp: "across-nodes" }, { pp: "across-nodes" }, { tp: "any" }, { pp: "inside-nodes", tp: "inside-nodes" }];
  it("the script's shape check agrees with the config check on every layout, shape and placement", () => {
    let compared = 0;
    for (const [shapeIdx, shape] of shapes.entries()) {
      for (const placement of placements) {
        if (Object.keys(placement).some((d) => !(d in shape))) continue;
        const size = Object.values(shape).reduce((a, b) => a * b, 1);
        // Render for the layout the config names, then run it where sbatch -N/--ntasks-per-node gave another.
        const tmpl = jobSchema.parse({ name: `s${shapeIdx}`, nodes: 1, tasksPerNode: size, mesh: shape, placement, program: "a.js", template: false });
        const rendered = renderJob({ ...tmpl, mesh: shape, placement: effectivePlacement(Object.keys(shape), placement as Record<string, Placement>) });
        for (const [nodes, perNode] of layouts) {
          const ts = checkJob(jobSchema.parse({ name: "x", nodes, tasksPerNode: perNode, mesh: shape, placement, program: "a.js" }));
          const r = runScript(rendered.script, nodes, perNode);
          expect(
            r.status === 0,
            `${JSON.stringify(shape)} ${JSON.stringify(placement)} on ${nodes}x${perNode}: bash says ${r.status} ${r.stderr}; config says ${ts.issues.map((i) => i.message).join("; ")}`,
          ).toBe(ts.issues.length === 0);
          if (r.status !== 0) expect(r.status).toBe(2);
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(100);
  }, 120_000);
});
