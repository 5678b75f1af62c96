// The farm features the Slurm sweep needs (CONTRACTS C3): `record: false` keeps a task's result
// out of the results table, task names with "/" log into subdirectories, and `after` takes
// futures of any result type without a cast.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Farm, UsageError, type Row, type TaskFuture } from "../../src/index.js";
import { memoryWorld } from "../../src/groups/memory-world.js";

const tasks = new URL("./fixtures/farm-tasks.ts", import.meta.url);
const dir = mkdtempSync(join(tmpdir(), "zmpi-farm-options-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function farmOf(sink: Row[], logDir: string): Promise<Farm> {
  const [c] = memoryWorld(1);
  return new Farm(await c!.dup(), { logDir, progress: "none", results: { append: (r) => void sink.push(r) } });
}

describe("farm options for DAG sweeps", () => {
  it("record: false keeps build results out of the table; samplers' rows go in; names with / log into subdirectories", async () => {
    const rows: Row[] = [];
    const logs = join(dir, "logs");
    const farm = await farmOf(rows, logs);
    const targets: TaskFuture<{ target: number; built: true }>[] = [1, 2].map((id) => farm.submit(tasks, "build", [id], { name: `build_target/${id}`, record: false }));
    // `after` takes TaskFuture<{ target; built }> as is: no cast to TaskFuture<unknown>.
    const samples = targets.flatMap((t, i) => [0, 1].map((n) => farm.submit<{ value: number }>(tasks, "sample", [n], { after: [t], name: `sampler/${i + 1}/${n}` })));
    expect((await Promise.all(samples)).map((s) => s.value).sort((a, b) => a - b)).toEqual([10, 11, 20, 21]);
    const summary = await farm.close();
    expect(summary?.completed).toBe(6);
    expect(rows.map((r) => r.task).sort()).toEqual(["sampler/1/0", "sampler/1/1", "sampler/2/0", "sampler/2/1"]);
    expect(rows.every((r) => !("built" in r))).toBe(true);
    expect(readFileSync(join(logs, "build_target", "1.log"), "utf8")).toMatch(/building 1/);
    expect(readFileSync(join(logs, "sampler", "2", "1.log"), "utf8")).toMatch(/sampling 1 on 2/);
    expect(existsSync(join(logs, "build_target", "2.log"))).toBe(true);
  });

  it.each(["/abs", "a//b", "a/../b", "..", "a/", "./a", "a b"])("refuses the task name %j before running anything", async (name) => {
    const farm = await farmOf([], join(dir, "refused"));
    expect(() => farm.submit(tasks, "build", [1], { name })).toThrow(UsageError);
    expect(() => farm.submit(tasks, "build", [1], { name })).toThrow(/no leading '\/', empty, '\.' or '\.\.' parts/);
    await farm.close();
    expect(existsSync(join(dir, "refused"))).toBe(false);
  });
});

describe("farm typing", () => {
  it("`after` accepts TaskFuture<T> of any T without a cast (tsc on a fixture)", () => {
    const root = fileURLToPath(new URL("../../", import.meta.url));
    const cfg = join(root, "tests/experiments/fixtures/tsconfig.after-typing.json");
    const r = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", cfg], { encoding: "utf8", timeout: 110_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  }, 120_000);
});
