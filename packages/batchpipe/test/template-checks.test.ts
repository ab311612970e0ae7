// Issue 13 item 10: templates read the record, never a file (include, render and layout are
// refused at validate), and `validate` renders the first record, so a template naming a field the
// records lack is shown at its place with a did-you-mean instead of failing every record later.
import { describe, expect, test } from "vitest";
import { cli, records, writeFiles } from "./support/harness.js";

const spec = (content: string) => `version: 1
name: templates
provider: { use: emulator }
source: { use: jsonl, path: ./data.jsonl }
transform:
  body:
    model: gpt-4o-mini
    messages:
      - role: user
        content: "${content}"
sinks:
  - { use: jsonl, path: ./out/results.jsonl }
`;

describe("templates in validate", () => {
  test("include, render and layout are refused: templates cannot read files", async () => {
    const dir = writeFiles({
      "data.jsonl": records(2),
      "secret.liquid": "the contents of a file",
      "pipeline.yaml": spec("{% include 'secret' %} {{ text }}").replace(
        "        content:",
        "        name: \"{% render 'secret' %}\"\n        content:",
      ),
    });
    expect(await cli(["validate", "pipeline.yaml"], { cwd: dir })).toMatchInlineSnapshot(`
      {
        "code": 2,
        "stderr": "pipeline.yaml:10:15 transform.body.messages[0].name: invalid template: {% render %} is not available: templates cannot read files; write the text into the template
         8 |     messages:
         9 |       - role: user
      > 10 |         name: "{% render 'secret' %}"
           |               ^^^^^^^^^^^^^^^^^^^^^^^
        11 |         content: "{% include 'secret' %} {{ text }}"
        12 | sinks:

      pipeline.yaml:11:18 transform.body.messages[0].content: invalid template: {% include %} is not available: templates cannot read files; write the text into the template
         9 |       - role: user
        10 |         name: "{% render 'secret' %}"
      > 11 |         content: "{% include 'secret' %} {{ text }}"
           |                  ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
        12 | sinks:
        13 |   - { use: jsonl, path: ./out/results.jsonl }

      ✖ pipeline.yaml has 2 problems (SPEC_INVALID)
      ",
        "stdout": "",
      }
    `);
    const layout = writeFiles({
      "data.jsonl": records(2),
      "pipeline.yaml": spec("{% layout 'secret' %}{{ text }}"),
    });
    expect((await cli(["validate", "pipeline.yaml"], { cwd: layout })).stderr).toContain(
      "{% layout %} is not available: templates cannot read files",
    );
  });

  test("a field the first record lacks is shown at the template, with a did-you-mean", async () => {
    const dir = writeFiles({ "data.jsonl": records(3), "pipeline.yaml": spec("Say {{ txt }}") });
    expect(await cli(["validate", "pipeline.yaml"], { cwd: dir })).toMatchInlineSnapshot(`
      {
        "code": 2,
        "stderr": "pipeline.yaml:10:18 transform.body.messages[0].content: undefined variable "txt": the first record (data.jsonl:1) fails to render, so the others probably do too
         8 |     messages:
         9 |       - role: user
      > 10 |         content: "Say {{ txt }}"
           |                  ^^^^^^^^^^^^^^^
        11 | sinks:
        12 |   - { use: jsonl, path: ./out/results.jsonl }
        hint: did you mean "text"? The record has no field "txt"; fix the template, or write {{ txt | default: "..." }}

      ✖ pipeline.yaml has a problem (SPEC_INVALID)
      ",
        "stdout": "",
      }
    `);
  });
});
