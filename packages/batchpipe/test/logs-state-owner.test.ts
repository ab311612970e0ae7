// `batchpipe logs` given another pipeline's state folder (--state-dir) refuses it, as status, runs,
// cache, stop and cancel do, instead of showing that pipeline's log as this one's.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, tempDir, waitFor } from "./support/harness.js";

describe("logs and a state folder of another pipeline", () => {
  it("refuses it (STATE_FAILED, exit 1) and prints none of its log", async () => {
    const root = tempDir();
    for (const name of ["alpha", "beta"])
      expect((await batchpipe(["init", name], { cwd: root })).code).toBe(0);
    const alpha = path.join(root, "alpha");
    expect((await batchpipe(["run", "pipeline.yaml", "--detach"], { cwd: alpha })).code).toBe(0);
    const alphaState = path.join(alpha, ".batchpipe", "alpha");
    await waitFor(() => fs.existsSync(path.join(alphaState, "daemon.log")), 20_000, "alpha's background log");
    const logs = await batchpipe(["logs", "beta/pipeline.yaml", "--state-dir", alphaState], { cwd: root });
    expect(logs.stdout).toBe("");
    expect(logs.stderr).toContain(`belongs to the pipeline "alpha", not "beta" (STATE_FAILED)`);
    expect(logs.code).toBe(1);
    // its own folder still shows its log
    expect((await batchpipe(["logs", "alpha/pipeline.yaml"], { cwd: root })).stdout).toContain(
      "batchpipe daemon started",
    );
  });
});
