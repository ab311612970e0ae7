// `batchpipe runs` lists the newest runs up to --limit (default 50); when there are older ones it
// says so and how to see them, instead of a list that looks whole.
import { describe, expect, it } from "vitest";
import { batchpipe, tempDir } from "./support/harness.js";

describe("runs past --limit", () => {
  it("says there are older runs, and how to list them", async () => {
    const dir = tempDir();
    expect((await batchpipe(["init"], { cwd: dir })).code).toBe(0);
    for (let i = 0; i < 2; i++)
      expect((await batchpipe(["run", "pipeline.yaml"], { cwd: dir })).code).toBe(0);

    const one = await batchpipe(["runs", "pipeline.yaml", "--limit", "1"], { cwd: dir });
    expect(one.code).toBe(0);
    const lines = one.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^r2-/);
    expect(lines[2]).toBe("(the newest 1; older runs: batchpipe runs pipeline.yaml --limit 51)");
    const json = JSON.parse(
      (await batchpipe(["runs", "pipeline.yaml", "--limit", "1", "--json"], { cwd: dir })).stdout,
    );
    expect(json.runs).toHaveLength(1);
    expect(json.more).toBe(true);

    // every run listed: no such line
    const all = await batchpipe(["runs", "pipeline.yaml", "--limit", "2"], { cwd: dir });
    expect(all.stdout.trimEnd().split("\n")).toHaveLength(3);
    expect(all.stdout).not.toContain("older runs");
    expect(JSON.parse((await batchpipe(["runs", "pipeline.yaml", "--json"], { cwd: dir })).stdout).more).toBe(
      false,
    );
  });
});
