import { describe, it, expect } from "vitest";
import { UsageError } from "../../src/errors.js";
import { deriveCoordinatorPort } from "../../src/env/coord-port.js";
import { detectEnvironment, type EnvVars } from "../../src/env/detect.js";
import { resolveHostAddress } from "../../src/env/resolve.js";

const HOST = "buildbox";

/** `KEY=value` lines (as printed by `env`) → an env object; `<...>` placeholders get fake values. */
function envOf(text: string, changes: EnvVars = {}): EnvVars {
  const env: EnvVars = {};
  for (const line of text.trim().split("\n")) {
    const eq = line.indexOf("=");
    env[line.slice(0, eq).trim()] = line.slice(eq + 1).replace(/^<.*>$/, "4711");
  }
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

function detect(env: EnvVars) {
  return detectEnvironment(env, { hostname: HOST });
}

function usageError(f: () => unknown): Error {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as Error;
  }
  throw new Error("expected a UsageError, nothing was thrown");
}

// Recorded on slurm-local (Slurm 22.05.8), see ../shared/slurm-local/README.md.
const SRUN_N4_TASK0 = `
SLURMD_NODENAME=n1
SLURM_CLUSTER_NAME=local
SLURM_CONF=/etc/slurm/slurm.conf
SLURM_CPUS_ON_NODE=4
SLURM_GTIDS=0,1,2,3
SLURM_JOBID=2
SLURM_JOB_CPUS_PER_NODE=4
SLURM_JOB_GID=0
SLURM_JOB_ID=2
SLURM_JOB_NAME=bash
SLURM_JOB_NODELIST=n1
SLURM_JOB_NUM_NODES=1
SLURM_JOB_PARTITION=debug
SLURM_JOB_UID=0
SLURM_JOB_USER=root
SLURM_LAUNCH_NODE_IPADDR=127.0.0.1
SLURM_LOCALID=0
SLURM_NNODES=1
SLURM_NODEID=0
SLURM_NODELIST=n1
SLURM_NPROCS=4
SLURM_NTASKS=4
SLURM_PRIO_PROCESS=0
SLURM_PROCID=0
SLURM_SRUN_COMM_HOST=127.0.0.1
SLURM_SRUN_COMM_PORT=<port>
SLURM_STEPID=0
SLURM_STEP_ID=0
SLURM_STEP_LAUNCHER_PORT=<port>
SLURM_STEP_NODELIST=n1
SLURM_STEP_NUM_NODES=1
SLURM_STEP_NUM_TASKS=4
SLURM_STEP_TASKS_PER_NODE=4
SLURM_SUBMIT_DIR=<cwd>
SLURM_SUBMIT_HOST=<hostname -s>
SLURM_TASKS_PER_NODE=4
SLURM_TASK_PID=<pid>
SLURM_TOPOLOGY_ADDR=n1
SLURM_TOPOLOGY_ADDR_PATTERN=node
SLURM_UMASK=0022
SLURM_WORKING_CLUSTER=local:127.0.0.1:6817:9728:109
`;

const SRUN_N2_N4_TASK0 = `
SLURMD_NODENAME=n1
SLURM_CLUSTER_NAME=local
SLURM_CONF=/etc/slurm/slurm.conf
SLURM_CPUS_ON_NODE=3
SLURM_GTIDS=0,1,2
SLURM_JOBID=3
SLURM_JOB_CPUS_PER_NODE=3,1
SLURM_JOB_GID=0
SLURM_JOB_ID=3
SLURM_JOB_NAME=bash
SLURM_JOB_NODELIST=n[1-2]
SLURM_JOB_NUM_NODES=2
SLURM_JOB_PARTITION=debug
SLURM_JOB_UID=0
SLURM_JOB_USER=root
SLURM_LAUNCH_NODE_IPADDR=127.0.0.1
SLURM_LOCALID=0
SLURM_NNODES=2
SLURM_NODEID=0
SLURM_NODELIST=n[1-2]
SLURM_NPROCS=4
SLURM_NTASKS=4
SLURM_PRIO_PROCESS=0
SLURM_PROCID=0
SLURM_SRUN_COMM_HOST=127.0.0.1
SLURM_SRUN_COMM_PORT=<port>
SLURM_STEPID=0
SLURM_STEP_ID=0
SLURM_STEP_LAUNCHER_PORT=<port>
SLURM_STEP_NODELIST=n[1-2]
SLURM_STEP_NUM_NODES=2
SLURM_STEP_NUM_TASKS=4
SLURM_STEP_TASKS_PER_NODE=3,1
SLURM_SUBMIT_DIR=<cwd>
SLURM_SUBMIT_HOST=<hostname -s>
SLURM_TASKS_PER_NODE=3,1
SLURM_TASK_PID=<pid>
SLURM_TOPOLOGY_ADDR=n1
SLURM_TOPOLOGY_ADDR_PATTERN=node
SLURM_UMASK=0022
SLURM_WORKING_CLUSTER=local:127.0.0.1:6817:9728:109
`;

const SBATCH_SCRIPT = `
SLURMD_NODENAME=n1
SLURM_CLUSTER_NAME=local
SLURM_CONF=/etc/slurm/slurm.conf
SLURM_CPUS_ON_NODE=2
SLURM_GTIDS=0
SLURM_JOBID=5
SLURM_JOB_CPUS_PER_NODE=2(x2)
SLURM_JOB_GID=0
SLURM_JOB_ID=5
SLURM_JOB_NAME=job.sh
SLURM_JOB_NODELIST=n[1-2]
SLURM_JOB_NUM_NODES=2
SLURM_JOB_PARTITION=debug
SLURM_JOB_UID=0
SLURM_JOB_USER=root
SLURM_LOCALID=0
SLURM_NNODES=2
SLURM_NODEID=0
SLURM_NODELIST=n[1-2]
SLURM_NODE_ALIASES=(null)
SLURM_NPROCS=4
SLURM_NTASKS=4
SLURM_NTASKS_PER_NODE=2
SLURM_PRIO_PROCESS=0
SLURM_PROCID=0
SLURM_SUBMIT_DIR=<cwd>
SLURM_SUBMIT_HOST=<hostname -s>
SLURM_TASKS_PER_NODE=2(x2)
SLURM_TASK_PID=<pid>
SLURM_TOPOLOGY_ADDR=n1
SLURM_TOPOLOGY_ADDR_PATTERN=node
SLURM_WORKING_CLUSTER=local:127.0.0.1:6817:9728:109
`;

/** Step 0 (`srun` with 4 tasks) inside that batch job, task `k` of `2(x2)`. */
function batchStep0Task(k: number): EnvVars {
  const node = k < 2 ? 0 : 1;
  return envOf(SRUN_N2_N4_TASK0, {
    SLURM_JOBID: "5",
    SLURM_JOB_ID: "5",
    SLURM_JOB_NAME: "job.sh",
    SLURM_STEP_TASKS_PER_NODE: "2(x2)",
    SLURM_TASKS_PER_NODE: "2(x2)",
    SLURM_JOB_CPUS_PER_NODE: "2(x2)",
    SLURM_DISTRIBUTION: "block",
    SLURM_JOB_CPUS_PER_NODE_PACK_GROUP_0: "2(x2)",
    SLURM_NODE_ALIASES: "(null)",
    SLURM_NTASKS_PER_NODE: "2",
    SLURMD_NODENAME: `n${node + 1}`,
    SLURM_NODEID: String(node),
    SLURM_PROCID: String(k),
    SLURM_LOCALID: String(k % 2),
    SLURM_GTIDS: node === 0 ? "0,1" : "2,3",
  });
}

/** Second step `srun -N1 -n1` in the same batch job: step values changed, job ones did not. */
const SECOND_STEP = envOf(SBATCH_SCRIPT, {
  SLURM_STEP_ID: "1",
  SLURM_STEPID: "1",
  SLURM_STEP_NODELIST: "n1",
  SLURM_STEP_NUM_NODES: "1",
  SLURM_STEP_NUM_TASKS: "1",
  SLURM_STEP_TASKS_PER_NODE: "1",
  SLURM_TASKS_PER_NODE: "1",
  SLURM_NTASKS: "1",
  SLURM_NPROCS: "1",
  SLURM_NNODES: "1",
  SLURM_SRUN_COMM_HOST: "127.0.0.1",
  SLURM_LAUNCH_NODE_IPADDR: "127.0.0.1",
});

describe("detectEnvironment: Slurm steps (recorded environments)", () => {
  it("srun -n 4, task 0", () => {
    expect(detect(envOf(SRUN_N4_TASK0))).toEqual({
      method: "slurm",
      rank: 0,
      size: 4,
      localRank: 0,
      localSize: 4,
      nodeIndex: 0,
      numNodes: 1,
      nodeName: "n1",
      hostname: HOST,
      nodeList: ["n1"],
      tasksPerNode: [4],
      jobId: "2",
      stepId: "0",
      cpusPerTask: null,
      coordinator: { host: "n1", port: 61440 + 2 * 16, portSource: "derived", runsHere: true },
      bindAddress: null,
      warnings: [],
    });
  });

  it("srun -n 4, tasks 1..3 do not run the coordinator", () => {
    for (const k of [1, 2, 3]) {
      const env = detect(envOf(SRUN_N4_TASK0, { SLURM_PROCID: String(k), SLURM_LOCALID: String(k) }));
      expect(env).toMatchObject({ rank: k, localRank: k, localSize: 4, size: 4 });
      expect(env.coordinator).toEqual({ host: "n1", port: 61472, portSource: "derived", runsHere: false });
    }
  });

  it("srun -N2 -n4 (3,1 layout): every task agrees on the coordinator", () => {
    const tasks = [
      {},
      { SLURM_PROCID: "1", SLURM_LOCALID: "1" },
      { SLURM_PROCID: "2", SLURM_LOCALID: "2" },
      {
        SLURMD_NODENAME: "n2",
        SLURM_NODEID: "1",
        SLURM_PROCID: "3",
        SLURM_LOCALID: "0",
        SLURM_CPUS_ON_NODE: "1",
        SLURM_GTIDS: "3",
        SLURM_TOPOLOGY_ADDR: "n2",
      },
    ].map((changes) => detect(envOf(SRUN_N2_N4_TASK0, changes)));
    expect(tasks.map((t) => [t.rank, t.localRank, t.localSize, t.nodeIndex, t.nodeName])).toEqual([
      [0, 0, 3, 0, "n1"],
      [1, 1, 3, 0, "n1"],
      [2, 2, 3, 0, "n1"],
      [3, 0, 1, 1, "n2"],
    ]);
    for (const t of tasks) {
      expect(t).toMatchObject({ method: "slurm", size: 4, numNodes: 2, nodeList: ["n1", "n2"], tasksPerNode: [3, 1] });
      expect(t.coordinator.host).toBe("n1");
      expect(t.coordinator.port).toBe(deriveCoordinatorPort("3", "0"));
    }
    expect(tasks.map((t) => t.coordinator.runsHere)).toEqual([true, false, false, false]);
  });

  it("srun -N2 --ntasks-per-node=2 -c 2: 2(x2) layout and cpusPerTask", () => {
    const env = detect(
      envOf(SRUN_N2_N4_TASK0, {
        SLURM_CPUS_PER_TASK: "2",
        SLURM_NTASKS_PER_NODE: "2",
        SLURM_TASKS_PER_NODE: "2(x2)",
        SLURM_STEP_TASKS_PER_NODE: "2(x2)",
        SLURMD_NODENAME: "n2",
        SLURM_NODEID: "1",
        SLURM_PROCID: "3",
        SLURM_LOCALID: "1",
      }),
    );
    expect(env).toMatchObject({ rank: 3, localRank: 1, localSize: 2, nodeIndex: 1, tasksPerNode: [2, 2], cpusPerTask: 2 });
    expect(env.coordinator.runsHere).toBe(false);
  });

  it("step 0 inside sbatch: the four tasks of 2(x2)", () => {
    const tasks = [0, 1, 2, 3].map((k) => detect(batchStep0Task(k)));
    expect(tasks.map((t) => [t.rank, t.localRank, t.nodeIndex, t.localSize, t.coordinator.runsHere])).toEqual([
      [0, 0, 0, 2, true],
      [1, 1, 0, 2, false],
      [2, 0, 1, 2, false],
      [3, 1, 1, 2, false],
    ]);
    expect(new Set(tasks.map((t) => t.coordinator.port))).toEqual(new Set([deriveCoordinatorPort("5", "0")]));
  });

  it("a second step in the batch job uses the step's values, not the job's", () => {
    const env = detect(SECOND_STEP);
    expect(env).toMatchObject({
      method: "slurm",
      rank: 0,
      size: 1,
      localSize: 1,
      numNodes: 1,
      nodeList: ["n1"],
      tasksPerNode: [1],
      jobId: "5",
      stepId: "1",
      warnings: [],
    });
    expect(env.coordinator).toEqual({
      host: "n1",
      port: deriveCoordinatorPort("5", "1"),
      portSource: "derived",
      runsHere: true,
    });
    // Two steps of one job never share a port.
    expect(env.coordinator.port).not.toBe(deriveCoordinatorPort("5", "0"));
  });

  it("falls back to job-level variables, with a warning when the step's node list is missing", () => {
    const env = detect(
      envOf(SRUN_N2_N4_TASK0, {
        SLURM_STEP_ID: undefined,
        SLURM_STEP_NODELIST: undefined,
        SLURM_STEP_NUM_NODES: undefined,
        SLURM_STEP_NUM_TASKS: undefined,
        SLURM_STEP_TASKS_PER_NODE: undefined,
      }),
    );
    expect(env).toMatchObject({ method: "slurm", stepId: "0", size: 4, nodeList: ["n1", "n2"], tasksPerNode: [3, 1] });
    expect(env.warnings.join("\n")).toMatch(/SLURM_STEP_NODELIST is not set/);
  });

  it("expands the first host of a padded multi-node list", () => {
    const env = detect(
      envOf(SRUN_N2_N4_TASK0, {
        SLURM_STEP_NODELIST: "gpu[007-008]",
        SLURM_JOB_NODELIST: "gpu[001-008]",
        SLURMD_NODENAME: "gpu007",
      }),
    );
    expect(env.coordinator.host).toBe("gpu007");
    expect(env.nodeList).toEqual(["gpu007", "gpu008"]);
  });
});

describe("detectEnvironment: Slurm batch script outside srun", () => {
  it("is a world of size 1 with a warning, never rank 0 of 4", () => {
    const env = detect(envOf(SBATCH_SCRIPT));
    expect(env).toMatchObject({
      method: "single",
      rank: 0,
      size: 1,
      localSize: 1,
      numNodes: 1,
      nodeName: "n1",
      jobId: "5",
      coordinator: { host: "127.0.0.1", port: 0, portSource: "none", runsHere: true },
    });
    expect(env.warnings).toHaveLength(1);
    expect(env.warnings[0]).toMatch(/inside a Slurm allocation \(job 5\) but not under srun/);
    expect(env.warnings[0]).toMatch(/world of size 1/);
    expect(env.warnings[0]).toContain('Use "srun node app.js" to start 4 ranks.');
  });

  it("keeps -c for the worker pool", () => {
    expect(detect(envOf(SBATCH_SCRIPT, { SLURM_CPUS_PER_TASK: "8" })).cpusPerTask).toBe(8);
  });

  it("refuses ZMPI_LAUNCHER=slurm there, naming the missing step id", () => {
    const err = usageError(() => detect(envOf(SBATCH_SCRIPT, { ZMPI_LAUNCHER: "slurm" })));
    expect(err.message).toMatch(/SLURM_STEP_ID or SLURM_STEPID must be set.*not running under srun/);
  });

  it("ZMPI_LAUNCHER=single silences the warning", () => {
    const env = detect(envOf(SBATCH_SCRIPT, { ZMPI_LAUNCHER: "single" }));
    expect(env).toMatchObject({ method: "single", size: 1, warnings: [] });
  });
});

describe("detectEnvironment: malformed Slurm variables", () => {
  const bad: Array<[EnvVars, RegExp]> = [
    [{ SLURM_PROCID: "3x" }, /SLURM_PROCID="3x" is not a non-negative integer/],
    [{ SLURM_PROCID: "" }, /SLURM_PROCID="" is not a non-negative integer/],
    [{ SLURM_PROCID: "-1" }, /SLURM_PROCID="-1"/],
    [{ SLURM_LOCALID: "1.5" }, /SLURM_LOCALID="1.5"/],
    [{ SLURM_STEP_NUM_TASKS: "0" }, /SLURM_STEP_NUM_TASKS="0" must be at least 1/],
    [{ SLURM_PROCID: "4" }, /SLURM_PROCID=4 is out of range.*world size \(4\)/],
    [{ SLURM_LOCALID: "3" }, /SLURM_LOCALID=3 is out of range.*ranks on this node \(3\)/],
    [{ SLURM_NODEID: "2" }, /SLURM_NODEID=2 is out of range.*nodes in the step \(2\)/],
    [{ SLURM_STEP_NUM_TASKS: "5" }, /SLURM_STEP_TASKS_PER_NODE="3,1" adds up to 4 task\(s\) but the step has 5/],
    [{ SLURM_STEP_TASKS_PER_NODE: "3" }, /lists 1 node\(s\) but the step has 2/],
    [{ SLURM_STEP_TASKS_PER_NODE: "2(x" }, /SLURM_STEP_TASKS_PER_NODE="2\(x"/],
    [{ SLURM_STEP_NODELIST: "n[2-1]" }, /SLURM_STEP_NODELIST: invalid hostlist "n\[2-1\]"/],
    [{ SLURM_STEP_NUM_NODES: "3" }, /SLURM_STEP_NUM_NODES=3 but SLURM_STEP_NODELIST="n\[1-2\]" names 2/],
    [{ SLURM_STEP_NODELIST: undefined, SLURM_JOB_NODELIST: undefined, SLURM_NODELIST: undefined }, /NODELIST must be set/],
    [{ SLURM_LOCALID: undefined }, /SLURM_LOCALID must be set/],
    [{ SLURM_CPUS_PER_TASK: "two" }, /SLURM_CPUS_PER_TASK="two"/],
    [{ ZMPI_COORD_PORT: "70000" }, /ZMPI_COORD_PORT="70000" is not a TCP port/],
    [{ ZMPI_LAUNCHER: "mpich" }, /ZMPI_LAUNCHER="mpich" is not one of/],
  ];
  for (const [changes, message] of bad) {
    it(`rejects ${JSON.stringify(changes)}`, () => {
      expect(usageError(() => detect(envOf(SRUN_N2_N4_TASK0, changes))).message).toMatch(message);
    });
  }
});

describe("detectEnvironment: zmpi launch", () => {
  const base: EnvVars = {
    ZMPI_RANK: "2",
    ZMPI_SIZE: "4",
    ZMPI_LOCAL_RANK: "2",
    ZMPI_LOCAL_SIZE: "4",
    ZMPI_NODE_INDEX: "0",
    ZMPI_NUM_NODES: "1",
    ZMPI_NODE_NAME: "laptop",
    ZMPI_JOB_ID: "9f3ac01b",
    ZMPI_COORD_ADDR: "127.0.0.1",
    ZMPI_COORD_PORT: "45123",
  };

  it("reads the launcher contract", () => {
    expect(detect(base)).toEqual({
      method: "zmpi",
      rank: 2,
      size: 4,
      localRank: 2,
      localSize: 4,
      nodeIndex: 0,
      numNodes: 1,
      nodeName: "laptop",
      hostname: HOST,
      nodeList: ["laptop"],
      tasksPerNode: [4],
      jobId: "9f3ac01b",
      stepId: "0",
      cpusPerTask: null,
      coordinator: { host: "127.0.0.1", port: 45123, portSource: "launcher", runsHere: false },
      bindAddress: null,
      warnings: [],
    });
    expect(detect({ ...base, ZMPI_RANK: "0" }).coordinator.runsHere).toBe(true);
  });

  it("wins over Slurm variables it inherits (zmpi launch inside an allocation)", () => {
    expect(detect({ ...envOf(SRUN_N4_TASK0), ...base }).method).toBe("zmpi");
  });

  it("defaults to a one-node world from ZMPI_RANK and ZMPI_SIZE", () => {
    const env = detect({ ZMPI_RANK: "1", ZMPI_SIZE: "3", ZMPI_JOB_ID: "abc" });
    expect(env).toMatchObject({ localRank: 1, localSize: 3, numNodes: 1, nodeName: HOST, jobId: "abc" });
    expect(env.coordinator).toEqual({
      host: "127.0.0.1",
      port: deriveCoordinatorPort("abc", "0"),
      portSource: "derived",
      runsHere: false,
    });
  });

  it("rejects a missing size and inconsistent values", () => {
    expect(usageError(() => detect({ ZMPI_RANK: "0" })).message).toMatch(/ZMPI_SIZE must be set/);
    expect(usageError(() => detect({ ...base, ZMPI_RANK: "4" })).message).toMatch(/ZMPI_RANK=4 is out of range/);
    expect(usageError(() => detect({ ...base, ZMPI_LOCAL_SIZE: "5" })).message).toMatch(/more than the world size/);
    expect(usageError(() => detect({ ...base, ZMPI_NODE_INDEX: "1" })).message).toMatch(/ZMPI_NODE_INDEX=1/);
    expect(usageError(() => detect({ ...base, ZMPI_SIZE: "4 " })).message).toMatch(/ZMPI_SIZE="4 "/);
    expect(usageError(() => detect({ ...base, ZMPI_NODE_NAME: "" })).message).toMatch(/ZMPI_NODE_NAME="" is empty/);
  });
});

describe("detectEnvironment: Open MPI", () => {
  const ompi: EnvVars = {
    OMPI_COMM_WORLD_RANK: "1",
    OMPI_COMM_WORLD_SIZE: "4",
    OMPI_COMM_WORLD_LOCAL_RANK: "1",
    OMPI_COMM_WORLD_LOCAL_SIZE: "4",
    OMPI_COMM_WORLD_NODE_RANK: "1",
    OMPI_MCA_ess_base_jobid: "3735355393",
  };

  it("one node: loopback coordinator, port derived from the Open MPI job id", () => {
    const env = detect(ompi);
    expect(env).toMatchObject({ method: "ompi", rank: 1, size: 4, localRank: 1, localSize: 4, nodeIndex: 0, numNodes: 1 });
    expect(env.coordinator).toEqual({
      host: "127.0.0.1",
      port: deriveCoordinatorPort("3735355393", "0"),
      portSource: "derived",
      runsHere: false,
    });
  });

  it("uses PMIX_NAMESPACE (Open MPI 5) and MASTER_ADDR/MASTER_PORT", () => {
    const v5 = { ...ompi, OMPI_MCA_ess_base_jobid: undefined, PMIX_NAMESPACE: "prterun-host-1234@1" };
    expect(detect(v5).coordinator.port).toBe(deriveCoordinatorPort("prterun-host-1234@1", "0"));
    const master = detect({ ...ompi, MASTER_ADDR: "node7", MASTER_PORT: "29500" });
    expect(master.coordinator).toMatchObject({ host: "node7", port: 29500, portSource: "MASTER_PORT" });
  });

  it("several nodes need ZMPI_COORD_ADDR (or MASTER_ADDR)", () => {
    const multi = { ...ompi, OMPI_COMM_WORLD_LOCAL_SIZE: "2" };
    expect(usageError(() => detect(multi)).message).toMatch(/set ZMPI_COORD_ADDR/);
    const env = detect({ ...multi, ZMPI_COORD_ADDR: "10.0.0.5", ZMPI_NODE_INDEX: "1" });
    expect(env).toMatchObject({ numNodes: 2, nodeIndex: 1, nodeList: [], tasksPerNode: [] });
    expect(env.coordinator.host).toBe("10.0.0.5");
  });

  it("without any job id a port must be given", () => {
    const noJob = { ...ompi, OMPI_MCA_ess_base_jobid: undefined };
    expect(usageError(() => detect(noJob)).message).toMatch(/set ZMPI_COORD_PORT/);
    expect(detect({ ...noJob, ZMPI_COORD_PORT: "50000" }).coordinator).toMatchObject({
      port: 50000,
      portSource: "ZMPI_COORD_PORT",
    });
  });

  it("rejects malformed values", () => {
    expect(usageError(() => detect({ ...ompi, OMPI_COMM_WORLD_SIZE: "four" })).message).toMatch(/OMPI_COMM_WORLD_SIZE="four"/);
    expect(usageError(() => detect({ ...ompi, OMPI_COMM_WORLD_LOCAL_RANK: "4" })).message).toMatch(/OMPI_COMM_WORLD_LOCAL_RANK=4 is out of range/);
  });
});

describe("detectEnvironment: torchrun", () => {
  const torch: EnvVars = {
    RANK: "5",
    WORLD_SIZE: "8",
    LOCAL_RANK: "1",
    LOCAL_WORLD_SIZE: "4",
    GROUP_RANK: "1",
    GROUP_WORLD_SIZE: "2",
    MASTER_ADDR: "node01",
    MASTER_PORT: "29500",
    TORCHELASTIC_RUN_ID: "run42",
  };

  it("reads RANK/WORLD_SIZE/LOCAL_*/GROUP_RANK and MASTER_ADDR:MASTER_PORT", () => {
    const env = detect(torch);
    expect(env).toMatchObject({
      method: "torchrun",
      rank: 5,
      size: 8,
      localRank: 1,
      localSize: 4,
      nodeIndex: 1,
      numNodes: 2,
      jobId: "run42",
      nodeName: HOST,
    });
    expect(env.coordinator).toEqual({ host: "node01", port: 29500, portSource: "MASTER_PORT", runsHere: false });
    expect(detect({ ...torch, RANK: "0", LOCAL_RANK: "0", GROUP_RANK: "0" }).coordinator.runsHere).toBe(true);
  });

  it("one node without MASTER_ADDR uses loopback; several nodes need it", () => {
    const one = { RANK: "0", WORLD_SIZE: "2", LOCAL_RANK: "0", LOCAL_WORLD_SIZE: "2", MASTER_PORT: "29500" };
    expect(detect(one).coordinator.host).toBe("127.0.0.1");
    expect(detect(one).jobId).toBe("local");
    expect(usageError(() => detect({ ...torch, MASTER_ADDR: undefined })).message).toMatch(/MASTER_ADDR/);
    expect(usageError(() => detect({ ...torch, MASTER_PORT: undefined })).message).toMatch(/MASTER_PORT/);
    expect(usageError(() => detect({ ...torch, MASTER_PORT: "29500x" })).message).toMatch(/MASTER_PORT="29500x"/);
  });

  it("Open MPI wins over stray RANK/WORLD_SIZE", () => {
    expect(
      detect({
        ...torch,
        OMPI_COMM_WORLD_RANK: "0",
        OMPI_COMM_WORLD_SIZE: "1",
        OMPI_COMM_WORLD_LOCAL_RANK: "0",
        OMPI_COMM_WORLD_LOCAL_SIZE: "1",
        OMPI_MCA_ess_base_jobid: "7",
      }).method,
    ).toBe("ompi");
  });
});

describe("detectEnvironment: single process and overrides", () => {
  it("an empty environment is a world of size 1", () => {
    expect(detect({})).toEqual({
      method: "single",
      rank: 0,
      size: 1,
      localRank: 0,
      localSize: 1,
      nodeIndex: 0,
      numNodes: 1,
      nodeName: HOST,
      hostname: HOST,
      nodeList: [HOST],
      tasksPerNode: [1],
      jobId: "local",
      stepId: "0",
      cpusPerTask: null,
      coordinator: { host: "127.0.0.1", port: 0, portSource: "none", runsHere: true },
      bindAddress: null,
      warnings: [],
    });
  });

  it("ZMPI_LAUNCHER=auto and empty mean detect; other values force a method", () => {
    expect(detect({ ...envOf(SRUN_N4_TASK0), ZMPI_LAUNCHER: "auto" }).method).toBe("slurm");
    expect(detect({ ...envOf(SRUN_N4_TASK0), ZMPI_LAUNCHER: "" }).method).toBe("slurm");
    expect(detect({ ...envOf(SRUN_N4_TASK0), ZMPI_LAUNCHER: "single" }).size).toBe(1);
    expect(usageError(() => detect({ ZMPI_LAUNCHER: "torchrun" })).message).toMatch(/RANK must be set under torchrun/);
    expect(usageError(() => detect({ ZMPI_LAUNCHER: "Slurm" })).message).toMatch(/ZMPI_LAUNCHER="Slurm"/);
  });

  it("ZMPI_COORD_ADDR, ZMPI_COORD_PORT, ZMPI_HOST_ADDR and ZMPI_NODE_NAME override Slurm's", () => {
    const env = detect(
      envOf(SRUN_N2_N4_TASK0, {
        ZMPI_COORD_ADDR: "10.1.0.1",
        ZMPI_COORD_PORT: "50001",
        ZMPI_HOST_ADDR: "10.1.0.1",
        ZMPI_NODE_NAME: "n1-ib",
      }),
    );
    expect(env.coordinator).toEqual({ host: "10.1.0.1", port: 50001, portSource: "ZMPI_COORD_PORT", runsHere: true });
    expect(env.bindAddress).toBe("10.1.0.1");
    expect(env.nodeName).toBe("n1-ib");
  });

  it("overrides apply to torchrun and single too", () => {
    const torch = detect({ RANK: "0", WORLD_SIZE: "1", MASTER_PORT: "29500", ZMPI_COORD_PORT: "29600", ZMPI_HOST_ADDR: "127.0.0.2" });
    expect(torch.coordinator).toMatchObject({ port: 29600, portSource: "ZMPI_COORD_PORT" });
    expect(torch.bindAddress).toBe("127.0.0.2");
    expect(detect({ ZMPI_NODE_NAME: "box" }).nodeName).toBe("box");
  });

  it("uses os.hostname() by default", async () => {
    const { hostname } = await import("node:os");
    expect(detectEnvironment({}).hostname).toBe(hostname());
  });
});

describe("resolveHostAddress", () => {
  it("returns IPv4 literals as they are and resolves localhost", async () => {
    expect(await resolveHostAddress("10.2.3.4")).toBe("10.2.3.4");
    expect(await resolveHostAddress("localhost")).toMatch(/^127\./);
  });

  it("names the host it cannot resolve", async () => {
    await expect(resolveHostAddress("no-such-host.invalid")).rejects.toThrow(UsageError);
    await expect(resolveHostAddress("no-such-host.invalid")).rejects.toThrow(/"no-such-host\.invalid"/);
    await expect(resolveHostAddress("")).rejects.toThrow(UsageError);
  });
});
