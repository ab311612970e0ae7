// stop and logs with no background run tell the user the command to start one with the spec (and
// --state-dir) they gave, ready to paste, not a `<spec>` placeholder.
import { describe, expect, it } from "vitest";
import { batchpipe, tempDir } from "./support/harness.js";

describe("hints of stop and logs with no background run", () => {
  it("name the spec and the state folder given", async () => {
    const root = tempDir();
    expect((await batchpipe(["init", "reviews"], { cwd: root })).code).toBe(0);
    const at = ["reviews/pipeline.yaml", "--state-dir", "st"];
    const stop = await batchpipe(["stop", ...at], { cwd: root });
    expect(stop.code).toBe(2);
    expect(stop.stderr).toContain(
      "hint: Start one with `batchpipe run reviews/pipeline.yaml --state-dir st --detach`; `batchpipe status reviews/pipeline.yaml --state-dir st` shows the last one.",
    );
    const logs = await batchpipe(["logs", ...at], { cwd: root });
    expect(logs.code).toBe(2);
    expect(logs.stderr).toContain(
      "hint: Start a background run with `batchpipe run reviews/pipeline.yaml --state-dir st --detach`.",
    );
  });
});
