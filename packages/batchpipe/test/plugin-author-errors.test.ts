// What the author of a badly written plugin is told, through the real CLI: each message names the
// plugin, says what it handed back and what it should hand back.
import path from "node:path";
import { describe, expect, test } from "vitest";
import { batchpipe, FIXTURES, writeFiles } from "./support/harness.js";

/** an offline pipeline (the emulator in process) over `source` */
const offline = (source: string) => `version: 1
name: plugin-author
provider: { use: emulator, emulator: { timeScale: 3600 } }
source: ${source}
transform:
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }
batch: { poll_interval: 50ms }
sinks: [{ use: jsonl, path: ./out/results.jsonl }]
`;

describe("a source that breaks its contract", () => {
  test("a record whose data is not an object is told what its data is", async () => {
    const source = `{ use: ${path.join(FIXTURES, "plugins/string-data-source.ts")} }`;
    const dir = writeFiles({ "pipeline.yaml": offline(source) });
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatchInlineSnapshot(`
      "✖ source (string-data) broke the plugin contract: yielded a record whose data is a string, not an object of the record's fields (PLUGIN_INVALID)
        hint: A source yields { data: { ...fields }, position: { file, line }, cursor } per record (SourceRecord in @batchpipe/core/plugin); fix the plugin. Nothing was submitted, the read starts over.
      "
    `);
  });
});
