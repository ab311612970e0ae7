// A state folder that cannot be made because mkdir answers ENOENT under a parent that exists (/proc,
// /sys): Node 20's recursive mkdirSync retries that forever on the main thread, so
// `--state-dir /proc/x` hung at 100 % CPU and not even SIGTERM ended it. It is STATE_FAILED now, at
// once. The real CLI in a child process, killed (SIGKILL) if it is still running after 20 s.
import { spawnSync } from "node:child_process";
import { expect, it } from "vitest";
import { CLI_BIN, tempDir, writeDataset, writePipeline } from "./support/harness.js";

it("--state-dir under /proc fails as STATE_FAILED instead of hanging", () => {
  const dir = tempDir("bp-state-proc-");
  writeDataset(dir, 3);
  const spec = writePipeline(dir, { baseUrl: "http://127.0.0.1:9/v1", name: "state-proc" });
  const started = Date.now();
  const child = spawnSync(
    process.execPath,
    [CLI_BIN, "run", spec, "--state-dir", "/proc/batchpipe-x/state"],
    {
      cwd: dir,
      env: { ...process.env, OPENAI_API_KEY: "sk-test" },
      encoding: "utf8",
      timeout: 20_000,
      killSignal: "SIGKILL",
    },
  );
  expect(child.signal, `still running after ${Date.now() - started} ms`).toBeNull();
  expect(child.status, child.stderr).toBe(1);
  expect(child.stderr).toContain("cannot create the state folder /proc/batchpipe-x/state: ENOENT");
  expect(child.stderr).toContain("(STATE_FAILED)");
}, 30_000);
