// An output folder that cannot be made because mkdir answers ENOENT under a parent that exists
// (/proc, /sys): the sink's own `mkdir(dir, { recursive: true })` never settled on Node 20, so a run
// with `path: /proc/x/out.db` hung. The sink makes its folder with core's makeOutputFolder now
// and fails at once with PLUGIN_FAILED, the path and what to do. The real CLI in a child process,
// killed (SIGKILL) if it is still running after 20 s.
import { expect, it } from "vitest";
import { runOneRecord } from "../../batchpipe/test/support/harness.js";

it("a sqlite sink path under /proc fails as PLUGIN_FAILED instead of hanging", async () => {
  const run = await runOneRecord({
    name: "sqlite-proc",
    sink: "{ use: sqlite, path: /proc/batchpipe-x/out.db }",
    timeoutMs: 20_000,
  });
  expect(run.signal, `still running after ${run.ms} ms`).toBeNull();
  expect(run.code, run.stderr).toBe(1);
  expect(run.events.find((e) => e.type === "error")).toMatchInlineSnapshot(`
    {
      "code": "PLUGIN_FAILED",
      "exitCode": 1,
      "hint": "Give path a file in a folder that can be made and written (not under /proc or /sys), or create the folder, and run again.",
      "message": "cannot create the folder /proc/batchpipe-x of path /proc/batchpipe-x/out.db: ENOENT: no such file or directory, mkdir '/proc/batchpipe-x'",
      "plugin": "sink:sqlite",
      "type": "error",
    }
  `);
}, 30_000);
