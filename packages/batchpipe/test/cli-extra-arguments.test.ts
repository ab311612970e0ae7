// A command given more arguments than it takes refuses them (usage error, exit 2) instead of
// acting on the first and dropping the rest unsaid: `batchpipe status a.yaml b.yaml` showed a's
// status alone, `batchpipe init a b` wrote into a only.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, tempDir } from "./support/harness.js";

describe("arguments a command does not take", () => {
  it("are a usage error that names them; nothing is done", async () => {
    const root = tempDir();
    const init = await batchpipe(["init", "a", "b"], { cwd: root });
    expect(init.stderr).toContain('✖ unexpected argument "b": init takes one (FOLDER) (USAGE)');
    expect(init.code).toBe(2);
    expect(fs.readdirSync(root)).toEqual([]);

    expect((await batchpipe(["init", "a"], { cwd: root })).code).toBe(0);
    const status = await batchpipe(["status", "a/pipeline.yaml", "b/pipeline.yaml", "--json"], { cwd: root });
    expect(status.code).toBe(2);
    expect(status.stderr).toContain(
      '✖ unexpected argument "b/pipeline.yaml": status takes one (PIPELINE) (USAGE)',
    );
    const schema = await batchpipe(["schema", "out.json"], { cwd: root });
    expect(schema.code).toBe(2);
    expect(schema.stderr).toContain('✖ unexpected argument "out.json": schema takes none (USAGE)');
    expect(schema.stdout).toBe("");

    // flags' values are no extra arguments; view takes several specs
    const runs = await batchpipe(
      ["runs", "a/pipeline.yaml", "--limit", "3", "--state-dir", "a/.batchpipe/a"],
      {
        cwd: root,
      },
    );
    expect(runs.code).toBe(0);
    const view = await batchpipe(["view", "a/pipeline.yaml", "nowhere.yaml"], { cwd: root });
    expect(view.stderr).toContain("nowhere.yaml does not exist");
    expect(fs.existsSync(path.join(root, "b"))).toBe(false);
  });
});
