// A jsonl sink's path that is no regular file: /dev/null (to drop the output) or /dev/stdout ended
// the run "sinks[0] (jsonl) failed in open: EINVAL: invalid argument, ftruncate" with the generic
// hint, and a named pipe hung the run in open until a reader came. The sink cuts its file back to
// its last commit on resume, which only a regular file allows: it refuses them at open, naming the
// path and what to do. The real CLI in a child process, killed after 20 s.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { expect, it } from "vitest";
import { runOneRecord, tempDir } from "../../batchpipe/test/support/harness.js";

const HINT =
  "The jsonl sink cuts its file back to the last commit when a run resumes, which only a regular file allows: give path a file (e.g. ./out/results.jsonl) and follow it with tail -f, or leave the sink out.";

it.each([
  ["/dev/null", "a device"],
  ["a named pipe", "a pipe"],
])(
  "path %s: PLUGIN_FAILED naming it, not EINVAL or a hang",
  async (target, kind) => {
    let file = target;
    if (target === "a named pipe") {
      file = path.join(tempDir("bp-jsonl-fifo-"), "out.jsonl");
      execFileSync("mkfifo", [file]);
    }
    const run = await runOneRecord({
      name: "jsonl-not-a-file",
      sink: `{ use: jsonl, path: ${file} }`,
      timeoutMs: 20_000,
    });
    expect(run.signal, `still running after ${run.ms} ms`).toBeNull();
    expect(run.code, run.stderr).toBe(1);
    expect(run.events.find((e) => e.type === "error")).toMatchObject({
      code: "PLUGIN_FAILED",
      plugin: "sink:jsonl",
      message: `${file} is ${kind}, not a regular file`,
      hint: HINT,
    });
  },
  30_000,
);
