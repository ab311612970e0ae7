// `batchpipe init` then `run` in an empty folder succeeds with no key and no network; init never
// overwrites; `batchpipe runs` lists the runs newest first with counts, cost and duration.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, readJsonl, tempDir } from "./support/harness.js";

describe("init and runs", () => {
  it("init writes a pipeline that runs at once; runs lists its runs; a second init refuses", async () => {
    const root = tempDir();
    const init = await batchpipe(["init", "reviews"], { cwd: root, env: { OPENAI_API_KEY: undefined } });
    expect(init.code).toBe(0);
    expect(init.stdout).toContain(
      "✔ wrote reviews/pipeline.yaml, reviews/data.jsonl (5 records) and reviews/.gitignore",
    );
    const dir = path.join(root, "reviews");
    expect(fs.readFileSync(path.join(dir, ".gitignore"), "utf8")).toContain(".batchpipe/\nout/\n");
    expect(fs.readFileSync(path.join(dir, "pipeline.yaml"), "utf8")).toContain("name: reviews");

    const validate = await batchpipe(["validate", "pipeline.yaml"], {
      cwd: dir,
      env: { OPENAI_API_KEY: undefined },
    });
    expect(validate.code).toBe(0);
    const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir, env: { OPENAI_API_KEY: undefined } });
    expect(run.stderr).not.toContain("✖");
    expect(run.code).toBe(0);
    const rows = readJsonl<{ id: string; status: string }>(path.join(dir, "out/results.jsonl"));
    expect(rows.map((r) => r.id).sort()).toEqual(["q1", "q2", "q3", "q4", "q5"]);

    // a second run runs again (issue 17: the dataset skip is gone with streaming submission; the
    // result cache replaces it): two runs, newest first
    expect((await batchpipe(["run", "pipeline.yaml"], { cwd: dir })).code).toBe(0);
    const runs = await batchpipe(["runs", "pipeline.yaml"], { cwd: dir });
    expect(runs.code).toBe(0);
    const lines = runs.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^run\s+status\s+started \(UTC\)\s+took\s+read\s+ok\s+failed\s+cost\s+batches$/);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/\sdone\s.*\s5\s+5\s+0\s/);
    expect(lines[2]).toMatch(/\sdone\s.*\s5\s+5\s+0\s+\$\d+\.\d+\s+1$/);
    const json = JSON.parse((await batchpipe(["runs", "pipeline.yaml", "--json"], { cwd: dir })).stdout);
    expect(json.runs.map((r: { status: string }) => r.status)).toEqual(["done", "done"]);
    expect(json.runs[1]).toMatchObject({ read: 5, counters: { succeeded: 5, failed: 0 } });

    const again = await batchpipe(["init", "reviews"], { cwd: root });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("pipeline.yaml exists; init never overwrites a file");
  });

  it("init in a folder with a .gitignore adds only the missing entries", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, ".gitignore"), "node_modules\nout/");
    expect((await batchpipe(["init"], { cwd: dir })).code).toBe(0);
    expect(fs.readFileSync(path.join(dir, ".gitignore"), "utf8")).toBe(
      "node_modules\nout/\n# batchpipe: run state (shard files hold full prompts) and outputs\n.batchpipe/\n",
    );
  });

  it("runs on a pipeline that never ran says so", async () => {
    const dir = tempDir();
    expect((await batchpipe(["init"], { cwd: dir })).code).toBe(0);
    const runs = await batchpipe(["runs", "pipeline.yaml"], { cwd: dir });
    expect(runs.code).toBe(0);
    expect(runs.stdout).toMatch(/: no run yet \(state: .*\.batchpipe/);
  });
});
