import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  batchpipe,
  ROOT,
  readJsonl,
  runNode,
  tempDir,
} from "../../packages/batchpipe/test/support/harness.js";

describe("examples/programmatic", () => {
  it("produces the same rows as the YAML quickstart on the same data", async () => {
    const example = path.join(ROOT, "examples/programmatic");
    const programmatic = await runNode([path.join(example, "run.mjs")], { cwd: path.join(ROOT, "examples") });
    expect(programmatic.stderr).toBe("");
    expect(programmatic.code).toBe(0);
    expect(programmatic.stdout).toContain("completed: 200 succeeded, 0 failed");

    const quick = tempDir();
    for (const file of ["pipeline.yaml", "data.jsonl"])
      fs.copyFileSync(path.join(ROOT, "examples/quickstart", file), path.join(quick, file));
    const yaml = await batchpipe(["run", "pipeline.yaml"], { cwd: quick });
    expect(yaml.code).toBe(0);

    type Row = { id: string; output?: unknown; content?: unknown; usage: unknown };
    const ours = readJsonl<Row>(path.join(example, "out/result.jsonl"));
    const theirs = readJsonl<Row>(path.join(quick, "out/results.jsonl"));
    expect(ours).toHaveLength(200);
    const byId = new Map(theirs.map((r) => [r.id, r]));
    expect(new Set(ours.map((r) => r.id))).toEqual(new Set(byId.keys()));
    for (const row of ours) {
      expect(row.content).toEqual(byId.get(row.id)!.output);
      expect(row.usage).toEqual(byId.get(row.id)!.usage);
    }
    expect(readJsonl(path.join(example, "out/errors.jsonl"))).toEqual([]);
  });
});
