// Every test of sqlite.test.ts again, with `worker: true` (SQLite in the sink's worker thread).
process.env.SQLITE_SINK_TEST_WORKER = "1";
await import("./sqlite.test.js");
