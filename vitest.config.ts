import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // end-to-end tests start servers and child processes; 2 cores here
    pool: "forks",
    maxWorkers: 2,
    // every temp folder of a run under one, removed at its end; one PostgreSQL server for the run,
    // started when a test first asks (teardowns run in reverse: the server stops before the folder goes)
    globalSetup: ["scripts/vitest-tmpdir.ts", "packages/sink-postgres/test/support/postgres-global-setup.ts"],
  },
});
