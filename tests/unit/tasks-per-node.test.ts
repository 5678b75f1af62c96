import { describe, it, expect } from "vitest";
import { UsageError } from "../../src/errors.js";
import { parseTasksPerNode } from "../../src/env/tasks-per-node.js";

describe("parseTasksPerNode", () => {
  const cases: Array<[string, number[]]> = [
    ["2(x3),1", [2, 2, 2, 1]],
    ["4", [4]],
    ["3,1", [3, 1]],
    ["2(x2)", [2, 2]],
    ["1,2(x2),3", [1, 2, 2, 3]],
    ["16(x1)", [16]],
  ];
  for (const [value, expected] of cases) {
    it(`parses ${value}`, () => {
      expect(parseTasksPerNode(value)).toEqual(expected);
    });
  }

  for (const value of ["2(x", "x3", "2(x0)", "-1", "", " ", "2,", ",2", "2(3)", "2(x3", "1.5", "2 (x3)", "a"]) {
    it(`rejects ${JSON.stringify(value)} naming the variable and quoting the value`, () => {
      let error: unknown;
      try {
        parseTasksPerNode(value, "SLURM_STEP_TASKS_PER_NODE");
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toContain(`SLURM_STEP_TASKS_PER_NODE="${value}"`);
    });
  }

  it("refuses absurd repeat counts", () => {
    expect(() => parseTasksPerNode("1(x100000000)")).toThrow(/more than/);
  });
});
