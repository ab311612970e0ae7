// The csv source's README offers `\t` as a delimiter ("e.g. `;` or `\t`"). Written as YAML does it
// unquoted or in single quotes (`delimiter: \t`, `delimiter: '\t'`), that is the two characters
// backslash and t, not a tab: a TSV export then read as one column named "id\ttext", and every row
// failed as template_error (undefined variable "id") with no word on the delimiter.
import { describe, expect, it } from "vitest";
import { batchpipe, readJsonl, writeFiles } from "./support/harness.js";

function spec(delimiter: string): string {
  return [
    "version: 1",
    "name: tsv",
    "provider: { use: emulator, emulator: { timeScale: 3600 } }",
    "source:",
    "  use: csv",
    "  path: ./data.tsv",
    `  delimiter: ${delimiter}`,
    "transform:",
    '  id: "{{ id }}"',
    '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
    "batch: { poll_interval: 50ms }",
    "sinks: [{ use: jsonl, path: ./out/results.jsonl, fields: [id, output] }]",
    "",
  ].join("\n");
}

describe("a tab delimiter written \\t in YAML", () => {
  it("plain, single-quoted or double-quoted, reads a TSV file by its tabs", async () => {
    for (const delimiter of ["\\t", "'\\t'", '"\\t"']) {
      const dir = writeFiles({
        "pipeline.yaml": spec(delimiter),
        "data.tsv": 'id\ttext\n1\thello, world\n2\tsay "hi"\n',
      });
      const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
      expect(run.code, `${delimiter}: ${run.stderr}`).toBe(0);
      expect(
        readJsonl(`${dir}/out/results.jsonl`).sort((a, b) => String(a.id).localeCompare(String(b.id))),
      ).toEqual([
        { id: "1", output: "hello, world" },
        { id: "2", output: 'say "hi"' },
      ]);
    }
  });
});
