// `batchpipe status` shows the background process of the run it shows: not that of an earlier run
// (a `run --detach` that ended before this run began in a terminal).
import { describe, expect, it } from "vitest";
import { batchpipe, tempDir, waitFor } from "./support/harness.js";

describe("status and the background process", () => {
  it("names the background process of the run shown, and not an earlier run's", async () => {
    const dir = tempDir();
    expect((await batchpipe(["init"], { cwd: dir })).code).toBe(0);
    expect((await batchpipe(["run", "pipeline.yaml", "--detach"], { cwd: dir })).code).toBe(0);
    await waitFor(
      async () => {
        const status = await batchpipe(["status", "pipeline.yaml", "--json"], { cwd: dir });
        return JSON.parse(status.stdout).daemon?.state === "finished";
      },
      30_000,
      "the background run to end",
    );
    const detached = await batchpipe(["status", "pipeline.yaml"], { cwd: dir });
    expect(detached.stdout).toMatch(/daemon pid \d+ finished \(exit 0\)/);

    // a later run in the terminal: the background process above is not its own
    expect((await batchpipe(["run", "pipeline.yaml"], { cwd: dir })).code).toBe(0);
    const status = await batchpipe(["status", "pipeline.yaml"], { cwd: dir });
    expect(status.stdout).toMatch(/run r2-\S+ done/);
    expect(status.stdout).not.toContain("daemon pid");
    // --json still carries what the state folder holds
    expect(
      JSON.parse((await batchpipe(["status", "pipeline.yaml", "--json"], { cwd: dir })).stdout).daemon,
    ).toMatchObject({
      state: "finished",
    });
  });
});
