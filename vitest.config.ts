import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // end-to-end tests start servers and child processes; 2 cores here
    pool: "forks",
    maxWorkers: 2,
    // every temp folder of a run under one, removed at its end
    globalSetup: ["scripts/vitest-tmpdir.ts"],
  },
});
