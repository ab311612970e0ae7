// plan hid the source's warnings that run prints: a CSV saved by Excel on Windows (Windows-1252,
// read as UTF-8) planned without a word, and `run` then warned about "caf�" once it had sent it.
// plan now prints each warning of the read (the source's) under its summary, and --json holds them
// as `warnings` ({ count, first }). The text names the file from the current folder, as errors do
// (it named it by absolute path); --json keeps the absolute path.
import { describe, expect, it } from "vitest";
import { batchpipe, writeFiles } from "./support/harness.js";

function spec(source: string): string {
  return [
    "version: 1",
    "name: latin-plan",
    "provider: { use: emulator, emulator: { timeScale: 3600 } }",
    "batch: { poll_interval: 50ms }",
    `source: ${source}`,
    "transform:",
    '  id: "{{ id }}"',
    '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
    "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
    "",
  ].join("\n");
}

/** 3 id,text rows; the second holds "café" in Windows-1252 */
const LATIN = Buffer.concat([
  Buffer.from("id,text\n1,hello\n2,caf"),
  Buffer.from([0xe9]),
  Buffer.from("\n3,bye\n"),
]);

const NOT_UTF8 =
  "data.csv:3: the file holds bytes that are not valid UTF-8 (the first in this row), read as U+FFFD (�). If it is Latin-1 or Windows-1252 (a CSV saved by Excel on Windows), set `encoding: latin1` in the source and run again";

describe("plan shows the source's warnings", () => {
  it("a Windows-1252 CSV read as UTF-8: the warning run would print, in the text and in --json", async () => {
    const dir = writeFiles({ "pipeline.yaml": spec("{ use: csv, path: ./data.csv }"), "data.csv": LATIN });
    const text = await batchpipe(["plan", "pipeline.yaml"], { cwd: dir });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`  ⚠ ${NOT_UTF8}\n`);
    const json = JSON.parse((await batchpipe(["plan", "pipeline.yaml", "--json"], { cwd: dir })).stdout) as {
      warnings: { count: number; first: string[] };
    };
    expect(json.warnings).toEqual({ count: 1, first: [`${dir}/${NOT_UTF8}`] });
  });

  it("run prints the same warning with the file named from the current folder; its --json event keeps the absolute path", async () => {
    const dir = writeFiles({ "pipeline.yaml": spec("{ use: csv, path: ./data.csv }"), "data.csv": LATIN });
    const text = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stderr).toContain(`  ⚠ ${NOT_UTF8}\n`);
    const again = writeFiles({ "pipeline.yaml": spec("{ use: csv, path: ./data.csv }"), "data.csv": LATIN });
    const json = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: again });
    expect(json.events.filter((e) => e.type === "warning").map((e) => e.message)).toEqual([
      `${again}/${NOT_UTF8}`,
    ]);
  });

  it("with encoding: latin1: no warning", async () => {
    const dir = writeFiles({
      "pipeline.yaml": spec("{ use: csv, path: ./data.csv, encoding: latin1 }"),
      "data.csv": LATIN,
    });
    const text = await batchpipe(["plan", "pipeline.yaml"], { cwd: dir });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).not.toContain("⚠");
    const json = JSON.parse((await batchpipe(["plan", "pipeline.yaml", "--json"], { cwd: dir })).stdout) as {
      warnings: { count: number; first: string[] };
    };
    expect(json.warnings).toEqual({ count: 0, first: [] });
  });
});
