// The mesh shape in the environment (ZMPI_MESH / ZMPI_MESH_PLACEMENT) and the placement rules that
// the config check and world.mesh("env") share.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UsageError, type Communicator, type Mesh } from "../../src/index.js";
import { memoryWorld } from "../../src/groups/memory-world.js";
import { blockNodes, formatMeshShape, meshSpecFromEnv, observePlacement, parseMeshShape, parsePlacement, placementProblems, resolveShape } from "../../src/groups/mesh-env.js";
import { meshFromEnv } from "../../src/groups/mesh-env.js";

describe("ZMPI_MESH text", () => {
  it("parses and formats name:size lists, -1 included, in order", () => {
    expect(parseMeshShape("pp:2,dp:-1, tp:2")).toEqual({ pp: 2, dp: -1, tp: 2 });
    expect(Object.keys(parseMeshShape("tp=2,pp=4"))).toEqual(["tp", "pp"]);
    expect(formatMeshShape({ pp: 2, dp: -1, tp: 2 })).toBe("pp:2,dp:-1,tp:2");
  });
  it.each([
    ["", /expected dimensions/],
    ["pp:2,,tp:2", /expected dimensions/],
    ["pp", /"pp" is not name:size/],
    ["pp:two", /"pp:two" is not name:size/],
    ["pp:2,pp:2", /"pp" is given twice/],
    ["9x:2", /dimension name "9x"/],
  ])("refuses %j", (text, re) => {
    expect(() => parseMeshShape(text)).toThrow(re);
  });
  it("placement lists: parsed, and a bad value names the choices", () => {
    expect(parsePlacement("pp:across-nodes,tp:inside-nodes")).toEqual({ pp: "across-nodes", tp: "inside-nodes" });
    expect(parsePlacement("")).toEqual({});
    expect(() => parsePlacement("tp:inside")).toThrow(/"tp:inside" must be dim:inside-nodes\|across-nodes\|any/);
  });
  it("meshSpecFromEnv: unset is an error saying how to set it, unless a fallback is given; placement of a dimension the mesh lacks is refused", () => {
    expect(() => meshSpecFromEnv({ env: {} })).toThrow(/ZMPI_MESH is not set/);
    expect(meshSpecFromEnv({ env: {}, fallback: { dp: -1 } })).toEqual({ shape: { dp: -1 }, placement: {} });
    expect(() => meshSpecFromEnv({ env: { ZMPI_MESH: "tp:2", ZMPI_MESH_PLACEMENT: "pp:any" } })).toThrow(/places "pp", which is not a dimension of ZMPI_MESH=tp:2/);
  });
  it("resolveShape infers -1 and names both sides of a size mismatch", () => {
    expect(resolveShape({ pp: 2, tp: -1 }, 8, "mesh")).toEqual([2, 4]);
    expect(() => resolveShape({ pp: 2, tp: 2 }, 8, "mesh")).toThrow("mesh: pp=2 x tp=2 = 4 ranks, but the job has 8 tasks");
    expect(() => resolveShape({ pp: 3, tp: -1 }, 8, "mesh")).toThrow(/8 tasks are not divisible by 3/);
    expect(() => resolveShape({ pp: -1, tp: -1 }, 8, "mesh")).toThrow(/only one dimension may be -1 \(inferred\), got pp and tp/);
    expect(() => resolveShape({ tp: 0 }, 8, "mesh")).toThrow(/mesh.tp must be a positive integer or -1/);
  });
});

describe("placement", () => {
  it("observes inside / across / mixed on a block layout", () => {
    const nodes = blockNodes(2, 2); // [0,0,1,1]
    expect(observePlacement([4], 0, nodes)).toBe("across-nodes");
    expect(observePlacement([2, 2], 1, nodes)).toBe("inside-nodes");
    expect(observePlacement([2, 2], 0, nodes)).toBe("across-nodes");
    expect(observePlacement([1, 4], 0, nodes)).toBe("single");
    expect(observePlacement([2, 2], 1, [0, 0, 0, 1])).toBe("mixed"); // a 3,1 layout: tp {0,1} inside, {2,3} across
  });

  it("the issue's example: tp=4 on 2 tasks per node needs placement across-nodes, and says so", () => {
    const p = placementProblems(["tp"], [4], { tp: "inside-nodes" }, blockNodes(2, 2), "mesh");
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(
      /mesh\.tp: tp=4 does not divide 2 tasks per node, so TP groups cannot sit inside nodes; make tasks per node a multiple of 4, or to place TP across nodes say placement: \{ tp: "across-nodes" \}/,
    );
    expect(placementProblems(["tp"], [4], { tp: "across-nodes" }, blockNodes(2, 2), "mesh")).toEqual([]);
    expect(placementProblems(["tp"], [4], { tp: "across-nodes" }, blockNodes(1, 4), "mesh")[0]).toMatch(/needs a job of 2 nodes or more, but this one has 1/);
    expect(placementProblems(["pp", "tp"], [2, 2], { pp: "across-nodes", tp: "across-nodes" }, blockNodes(2, 2), "mesh")[0]).toMatch(
      /mesh\.tp: some tp groups sit inside one node/,
    );
  });

  it("the closed forms the sbatch script uses agree with enumeration (inside: perNode % block == 0; across: (n-1)*stride >= perNode)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 6 }), (sizes, perNode) => {
        const size = sizes.reduce((a, b) => a * b, 1);
        if (size % perNode !== 0) return;
        const nodes = blockNodes(size / perNode, perNode);
        sizes.forEach((n, i) => {
          if (n === 1) return;
          const stride = sizes.slice(i + 1).reduce((a, b) => a * b, 1);
          const got = observePlacement(sizes, i, nodes);
          expect(got === "inside-nodes", `inside ${sizes} @${perNode} dim ${i}`).toBe(perNode % (n * stride) === 0);
          expect(got === "across-nodes", `across ${sizes} @${perNode} dim ${i}`).toBe((n - 1) * stride >= perNode);
        });
      }),
      { numRuns: 300 },
    );
  });
});

/** Runs `fn` on every rank of an in-memory world whose ranks sit `perNode` to a node. */
async function onNodes<T>(size: number, perNode: number, fn: (c: Communicator) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
  const w = memoryWorld(size);
  w.forEach((c) => (c.engine.nodeName = `n${Math.floor(c.rank / perNode) + 1}`));
  return Promise.allSettled(w.map(fn));
}

describe('world.mesh("env")', () => {
  it("builds the mesh the environment describes, with the default placement (last dimension inside nodes)", async () => {
    const env = { ZMPI_MESH: "pp:2,tp:-1" };
    const res = await onNodes(8, 4, (c) => c.mesh<"pp" | "tp">("env", { env }));
    for (const r of res) expect(r.status).toBe("fulfilled");
    const m = (res[5] as PromiseFulfilledResult<Mesh<Communicator>>).value;
    expect(m.dims).toEqual(["pp", "tp"]);
    expect(m.shape).toEqual([2, 4]);
    expect(m.placementOf("tp")).toBe("inside-nodes");
    expect(m.placementOf("pp")).toBe("across-nodes");
  });

  it("refuses, on every rank and before any group is made, a layout that breaks the placement", async () => {
    const res = await onNodes(4, 2, (c) => meshFromEnv(c, { env: { ZMPI_MESH: "tp:4" } }));
    for (const r of res) {
      expect(r.status).toBe("rejected");
      const e = (r as PromiseRejectedResult).reason as Error;
      expect(e).toBeInstanceOf(UsageError);
      expect(e.message).toMatch(/tp=4 does not divide 2 tasks per node/);
    }
    const ok = await onNodes(4, 2, (c) => meshFromEnv(c, { env: { ZMPI_MESH: "tp:4", ZMPI_MESH_PLACEMENT: "tp:across-nodes" } }));
    for (const r of ok) expect(r.status).toBe("fulfilled");
  });

  it('a string other than "env" is a UsageError', async () => {
    const [c] = memoryWorld(1);
    await expect(c!.mesh("ENV" as "env")).rejects.toThrow(/takes a shape such as \{ pp: 2, tp: 2 \} or "env", got "ENV"/);
  });
});
