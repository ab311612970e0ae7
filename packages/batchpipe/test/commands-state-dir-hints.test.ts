// The commands run --detach, status, stop and cancel print a command to go on with (follow, stop,
// resume, settle a cancel).
// Given --state-dir, that command must carry it: without it, `batchpipe run` opens the default
// state folder, not the run's, and does not resume it.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, tempDir, waitFor } from "./support/harness.js";

describe("status, stop and cancel under --state-dir", () => {
  it("print the resume and settle commands with the --state-dir they were given", async () => {
    const dir = tempDir();
    expect((await batchpipe(["init"], { cwd: dir })).code).toBe(0);
    // a slow emulator: the batch stays in progress ~25 s, long enough to stop the run in it
    const spec = path.join(dir, "pipeline.yaml");
    const text = fs.readFileSync(spec, "utf8");
    fs.writeFileSync(
      spec,
      text.replace(/timeScale: 3600.*/, "timeScale: 1\n    latencies: { linesPerSecond: 0.2 }"),
    );
    const at = ["--state-dir", "st"];
    const started = await batchpipe(["run", "pipeline.yaml", "--detach", ...at], { cwd: dir });
    expect(started.code).toBe(0);
    expect(started.stdout).toContain(
      "follow it: batchpipe logs pipeline.yaml --state-dir st -f · stop it: batchpipe stop pipeline.yaml --state-dir st\n",
    );
    await waitFor(
      async () => {
        const status = await batchpipe(["status", "pipeline.yaml", "--json", ...at], { cwd: dir });
        return (JSON.parse(status.stdout).run?.batches.length ?? 0) > 0;
      },
      30_000,
      "the background run to submit its batch",
    );

    const stop = await batchpipe(["stop", "pipeline.yaml", ...at], { cwd: dir });
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain("resume with: batchpipe run pipeline.yaml --state-dir st [--detach]");
    const stopped = await batchpipe(["status", "pipeline.yaml", ...at], { cwd: dir });
    expect(stopped.stdout).toContain("resume with: batchpipe run pipeline.yaml --state-dir st\n");

    const cancel = await batchpipe(["cancel", "pipeline.yaml", ...at], { cwd: dir });
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(
      "if none is running, `batchpipe run pipeline.yaml --state-dir st` does it.",
    );
    const unsettled = await batchpipe(["status", "pipeline.yaml", ...at], { cwd: dir });
    expect(unsettled.stdout).toContain("settle it with: batchpipe run pipeline.yaml --state-dir st (");

    // the command as printed settles it
    const settle = await batchpipe(["run", "pipeline.yaml", "--state-dir", "st"], { cwd: dir });
    expect(settle.stdout).toContain("cancelled");
    expect(fs.existsSync(path.join(dir, ".batchpipe"))).toBe(false);
  });
});
