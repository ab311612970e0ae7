// A record nested too deeply for JSON.stringify (~5,000 levels; Node 20 gives up past ~4,000) is
// that record's invalid_input failure, never a crash of plan, run or try: through the real CLI
// (in-process emulator), from a jsonl line and from a CSV column typed `json`.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, readJsonl, report, writeFiles } from "./support/harness.js";

const deep = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;

function spec(source: string): string {
  return [
    "version: 1",
    "name: deep",
    "provider: { use: emulator, emulator: { timeScale: 3600 } }",
    `source: ${source}`,
    "transform:",
    '  id: "{{ id }}"',
    '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
    "batch: { poll_interval: 50ms }",
    "sinks: [{ use: jsonl, path: ./out/results.jsonl, fields: all }]",
    "errors: [{ use: jsonl, path: ./out/errors.jsonl }]",
    "",
  ].join("\n");
}

interface Row {
  id: string;
  input: unknown;
  error?: { code: string; message: string };
  source: { line: number };
}

describe("records nested too deeply (real CLI)", () => {
  it("a jsonl line 5,000 levels deep: plan and try go on, run fails it as invalid_input at its line, its neighbours succeed", async () => {
    const dir = writeFiles({
      "pipeline.yaml": spec("{ use: jsonl, path: ./data.jsonl }"),
      "data.jsonl": `{"id":"a","text":"one"}\n{"id":"deep","text":"t","x":${deep(5000)}}\n{"id":"b","text":"two"}\n`,
    });
    const plan = await batchpipe(["plan", "pipeline.yaml"], { cwd: dir });
    expect(plan.code, plan.stderr).toBe(0);
    const tried = await batchpipe(["try", "pipeline.yaml"], { cwd: dir });
    expect(tried.code, tried.stderr).not.toBe(1);
    expect(tried.stdout).toMatch(/not sent: .*data\.jsonl:2: the record is nested too deeply/);

    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code, run.stderr).toBe(3);
    expect(report(run)).toMatchObject({ read: 3, succeeded: 2, failed: 1, unaccounted: 0 });
    const errors = readJsonl<Row>(path.join(dir, "out/errors.jsonl"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ id: "data.jsonl:2", input: null, error: { code: "invalid_input" } });
    expect(errors[0]!.error!.message).toBe(
      "data.jsonl:2: the record is nested too deeply to serialise as JSON (thousands of levels of lists or objects); flatten that value or leave it out of the record",
    );
    const ids = readJsonl<Row>(path.join(dir, "out/results.jsonl")).map((r) => r.id);
    expect(ids.sort()).toEqual(["a", "b"]);
  });

  it("a CSV column typed json holding 5,000 levels: that row's invalid_input failure", async () => {
    const dir = writeFiles({
      "pipeline.yaml": spec("{ use: csv, path: ./data.csv, types: { x: json } }"),
      "data.csv": `id,text,x\na,one,[1]\ndeep,t,${deep(5000)}\n`,
    });
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code, run.stderr).toBe(3);
    expect(report(run)).toMatchObject({ read: 2, succeeded: 1, failed: 1, unaccounted: 0 });
    const errors = readJsonl<Row>(path.join(dir, "out/errors.jsonl"));
    expect(errors).toMatchObject([
      {
        id: "data.csv:3",
        input: null,
        error: { code: "invalid_input", message: expect.stringMatching(/nested too deeply/) },
      },
    ]);
  });
});
