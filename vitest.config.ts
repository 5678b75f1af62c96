import { defineConfig } from "vitest/config";

// Forks, not threads: a worker thread that still holds a zeromq socket aborts the whole
// process when vitest terminates it (see ../shared/anchors/node-probe/README.md, gotchas).
export default defineConfig({
  test: {
    pool: "forks",
    include: ["tests/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: process.env.CI ? ["default", "json"] : ["default"],
    outputFile: { json: ".vitest-results.json" },
  },
});
