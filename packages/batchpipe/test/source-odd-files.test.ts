// Odd source files whose records would otherwise vanish or fail without a word on why, through the
// real CLI (in-process emulator): CSV with lone-\r line ends, a quote left open, a UTF-16 or
// non-breaking-space jsonl line. Each is a located error or a failure row saying what to do.
import { describe, expect, it } from "vitest";
import { batchpipe, readJsonl, report, writeFiles } from "./support/harness.js";

/** a spec over the in-process emulator: results and failures to jsonl files */
function oddSpec(source: string): string {
  return [
    "version: 1",
    "name: odd",
    "provider: { use: emulator, emulator: { timeScale: 3600 } }",
    `source: ${source}`,
    "transform:",
    '  id: "{{ id }}"',
    '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
    "batch: { poll_interval: 50ms }",
    "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
    "errors: [{ use: jsonl, path: ./out/errors.jsonl }]",
    "",
  ].join("\n");
}

describe("odd source files (real CLI)", () => {
  it("a CSV with lone-\\r line ends beside a good one stops the run with SOURCE_FAILED at the file, and the fix", async () => {
    const dir = writeFiles({
      "pipeline.yaml": oddSpec("{ use: csv, path: ./data/ }"),
      "data/a.csv": "id,text\n1,fine\n",
      "data/b.csv": "id,text\r2,hello\r3,world\r",
    });
    const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("SOURCE_FAILED");
    expect(run.stderr).toContain("data/b.csv:1:8");
    expect(run.stderr).toContain("lone \\r");
    expect(run.stderr).toContain("tr '\\r' '\\n'");
  });

  it("a quote left open in row 11 of 100,000: the failure and a warning say it swallowed lines 12 to 100,001, and the fix", async () => {
    let csv = "id,text\n";
    for (let i = 1; i <= 100_000; i++) csv += i === 11 ? `${i},"6 inch\n` : `${i},row ${i}\n`;
    const dir = writeFiles({ "pipeline.yaml": oddSpec("{ use: csv, path: ./data.csv }"), "data.csv": csv });
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code, run.stderr).toBe(3);
    expect(report(run)).toMatchObject({ read: 11, succeeded: 10, failed: 1, unaccounted: 0 });
    const why =
      'the row on line 12 opens a quoted field that is never closed: lines 12 to 100,001 (the end of the file) were read as this one row, so the 99,989 lines after line 12 are not records. Close the quote (a quote inside a quoted field is written ""), or set `quote` to a character the data does not use, and run again';
    const errors = readJsonl<{ id: string; error: { message: string } }>(`${dir}/out/errors.jsonl`);
    expect(errors.map((e) => [e.id, e.error.message])).toEqual([
      ["data.csv:12", `data.csv:12: malformed CSV: ${why}`],
    ]);
    // the one failure row would hide 99,989 lines: a warning says so while the run reads
    expect(run.events.filter((e) => e.type === "warning").map((e) => e.message)).toContain(
      `${dir}/data.csv:12: ${why}`,
    );
  });

  it("a UTF-16 jsonl file stops the run with SOURCE_FAILED and the hint to convert it, as a UTF-16 CSV does", async () => {
    const utf16 = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from('{"id":"a","text":"hi"}\n', "utf16le"),
    ]);
    for (const [file, source] of [
      ["data.jsonl", "{ use: jsonl, path: ./data.jsonl }"],
      ["data.csv", "{ use: csv, path: ./data.csv }"],
    ] as const) {
      const dir = writeFiles({ "pipeline.yaml": oddSpec(source), [file]: utf16 });
      const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(
        `${file} is UTF-16 (it starts with a UTF-16 byte order mark) (SOURCE_FAILED)`,
      );
      expect(run.stderr).toContain(`iconv -f UTF-16 -t UTF-8 in.${file.split(".")[1]}`);
    }
  });

  it("a jsonl line of only U+00A0 is an invalid_input failure (JSON.parse refuses it); a line of spaces and tabs is blank", async () => {
    const dir = writeFiles({
      "pipeline.yaml": oddSpec("{ use: jsonl, path: ./data.jsonl }"),
      "data.jsonl": '{"id":"a","text":"one"}\n\u00a0\n \t \n{"id":"b","text":"two"}\n',
    });
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code, run.stderr).toBe(3);
    expect(report(run)).toMatchObject({ read: 3, succeeded: 2, failed: 1, unaccounted: 0 });
    const errors = readJsonl<{ id: string; error: { code: string; message: string } }>(
      `${dir}/out/errors.jsonl`,
    );
    expect(errors.map((e) => [e.id, e.error.code, e.error.message])).toEqual([
      [
        "data.jsonl:2",
        "invalid_input",
        "data.jsonl:2: invalid JSON: the line holds only whitespace JSON does not allow (U+00A0): remove it, or make the line empty",
      ],
    ]);
  });
});
