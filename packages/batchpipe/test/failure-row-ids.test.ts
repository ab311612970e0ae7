// The ids of failure rows: an errors table (sqlite, postgres) is upserted by id, so two failures
// must never share one. A failure without a custom_id carries its position, the file relative to
// the spec's folder and the line; the real CLI, in-process emulator, a real SQLite errors table.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, querySqlite, readJsonl, writeFiles } from "./support/harness.js";

interface ErrorRow {
  id: string;
  error: string;
}

/** a spec over the in-process emulator: results to jsonl, failures to a SQLite errors table */
function spec(source: string, id = "{{ id }}"): string {
  return [
    "version: 1",
    "name: ids",
    "provider: { use: emulator, emulator: { timeScale: 3600 } }",
    `source: ${source}`,
    "transform:",
    `  id: "${id}"`,
    '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
    "batch: { poll_interval: 50ms }",
    "sinks: [{ use: jsonl, path: ./out/results.jsonl, fields: all }]",
    "errors: [{ use: sqlite, path: ./out/errors.db, table: errors }]",
    "",
  ].join("\n");
}

function errorIds(dir: string): { id: string; code: string }[] {
  return querySqlite<ErrorRow>(
    path.join(dir, "out/errors.db"),
    "SELECT id, error FROM errors ORDER BY id",
  ).map((r) => ({ id: r.id, code: (JSON.parse(r.error) as { code: string }).code }));
}

describe("failure row ids (real CLI, SQLite errors table)", () => {
  it("bad lines of two files of one name in different folders keep a row each: the id is the path from the spec's folder", async () => {
    const bad = '{"id":"ok-a","text":"a"}\nnot json\n';
    const dir = writeFiles({
      "pipeline.yaml": spec("{ use: jsonl, path: './data/**/*.jsonl' }"),
      "data/date=2026-01-01/part.jsonl": bad,
      "data/date=2026-01-02/part.jsonl": bad.replace("ok-a", "ok-b"),
    });
    const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(run.code, run.stderr).toBe(3);
    expect(errorIds(dir)).toEqual([
      { id: "data/date=2026-01-01/part.jsonl:2", code: "invalid_input" },
      { id: "data/date=2026-01-02/part.jsonl:2", code: "invalid_input" },
    ]);
  });

  it("a failure row's message names the record's file as its id does, from the spec's folder, whatever the current folder", async () => {
    const dir = writeFiles({
      "pipeline.yaml": spec("{ use: jsonl, path: ./data/in.jsonl }"),
      "data/in.jsonl": '{"id":"a","text":"x"}\nnot json\n{"id":"b"}\n',
      "elsewhere/.keep": "",
    });
    const run = await batchpipe(["run", "../pipeline.yaml"], { cwd: path.join(dir, "elsewhere") });
    expect(run.code, run.stderr).toBe(3);
    const rows = querySqlite<ErrorRow>(
      path.join(dir, "out/errors.db"),
      "SELECT id, error FROM errors ORDER BY id",
    );
    expect(
      rows.map((r) => ({ id: r.id, message: (JSON.parse(r.error) as { message: string }).message })),
    ).toMatchInlineSnapshot(`
        [
          {
            "id": "b",
            "message": "undefined variable "text" in body.messages[0].content (record at data/in.jsonl:3)",
          },
          {
            "id": "data/in.jsonl:2",
            "message": "data/in.jsonl:2: invalid JSON: Unexpected token 'o', "not json" is not valid JSON",
          },
        ]
      `);
  });

  it("CSV rows with an empty id cell fail as template_error, each with its own position id", async () => {
    const dir = writeFiles({
      "pipeline.yaml": spec("{ use: csv, path: ./in/data.csv }"),
      "in/data.csv": "id,text\n,one\n1,fine\n,two\n,three\n",
    });
    const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(run.code, run.stderr).toBe(3);
    expect(errorIds(dir)).toEqual([
      { id: "in/data.csv:2", code: "template_error" },
      { id: "in/data.csv:4", code: "template_error" },
      { id: "in/data.csv:5", code: "template_error" },
    ]);
  });

  it("a record whose custom_id cannot be rendered gets its position id, not its unrelated `id` field", async () => {
    const dir = writeFiles({
      "pipeline.yaml": spec("{ use: jsonl, path: ./data.jsonl }", "{{ review_id }}"),
      "data.jsonl": '{"review_id":"5","id":"x","text":"a"}\n{"id":"5","text":"no review id"}\n',
    });
    const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(run.code, run.stderr).toBe(3);
    expect(errorIds(dir)).toEqual([{ id: "data.jsonl:2", code: "template_error" }]);
    const results = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl"));
    expect(results.map((r) => r.id)).toEqual(["5"]);
  });
});
