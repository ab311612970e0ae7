// `batchpipe plan` reads and shards locally and never submits: a source that fails there has no
// run to resume, so its hint must not speak of one ("Nothing was submitted, the read starts over."
// was appended to the source's own hint, as for `run`).
import path from "node:path";
import { describe, expect, test } from "vitest";
import { cli, records, writeFiles } from "./support/harness.js";

const FIXTURES = path.join(import.meta.dirname, "fixtures");

const spec = (source: string) => `version: 1
name: plan-source-failure
provider: { use: emulator }
source: ${source}
transform:
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }
sinks:
  - { use: jsonl, path: ./out/results.jsonl }
`;

describe("plan on a source that fails", () => {
  test("on_invalid: fail at a bad line: the place and the source's hint, nothing about a resume", async () => {
    const dir = writeFiles({
      "pipeline.yaml": spec("{ use: jsonl, path: ./data.jsonl, on_invalid: fail }"),
      "data.jsonl": '{"id":"a","text":"x"}\nnot json\n',
    });
    const out = await cli(["plan", "pipeline.yaml"], { cwd: dir });
    expect(out).toMatchInlineSnapshot(`
      {
        "code": 1,
        "stderr": "✖ data.jsonl:2: invalid JSON: Unexpected token 'o', "not json" is not valid JSON (SOURCE_FAILED)
        at data.jsonl:2:1
        1 | {"id":"a","text":"x"}
      > 2 | not json
          | ^
        hint: Fix the line, or set \`on_invalid: skip_row\` to report it as a failed record and go on.
      ",
        "stdout": "",
      }
    `);
  });

  test("a source plugin that throws: PLUGIN_FAILED naming it, with the source's hint", async () => {
    const dir = writeFiles({
      "pipeline.yaml": spec(
        `{ use: ${path.join(FIXTURES, "plugins/flaky-source.ts")}, path: ./data.jsonl, fail_marker: ./broken, fail_after: 2 }`,
      ),
      "data.jsonl": records(5),
      broken: "",
    });
    const out = await cli(["plan", "pipeline.yaml"], { cwd: dir });
    expect(out).toMatchInlineSnapshot(`
      {
        "code": 1,
        "stderr": "✖ source (flaky-source) failed while reading: connection reset while reading record 3 (PLUGIN_FAILED)
        hint: Fix the source's problem and run again.
      ",
        "stdout": "",
      }
    `);
  });
});
