// A transform whose create() throws (its prompt file is missing) rejects runSpec with PLUGIN_FAILED
// naming the transform, as toRequest(), read(), open(), write() and commit() failures do: it was the
// bare Error, without a code or the plugin's name.
import { expect, it } from "vitest";
import { officialPlugins, tempDir } from "../../batchpipe/test/support/harness.js";
import { type BatchpipeError, runSpec } from "../src/index.js";
import { defineSource, defineTransform, z } from "../src/plugin.js";

const numbers = defineSource({
  name: "numbers",
  options: z.strictObject({}),
  async *read() {
    for (let i = 1; i <= 3; i++)
      yield { data: { id: `n${i}` }, position: { file: "numbers", line: i }, cursor: i };
  },
});

const missingPrompt = defineTransform({
  name: "missing-prompt",
  options: z.strictObject({}),
  create() {
    throw new Error("ENOENT: no such file or directory, open 'prompts/ask.liquid'");
  },
});

it("runSpec: a create() that throws a plain Error rejects with PLUGIN_FAILED naming the transform", async () => {
  const spec = {
    version: 1,
    name: "transform-create-throws",
    provider: { use: "emulator", emulator: { timeScale: 3600 } },
    source: { use: numbers },
    transform: { use: missingPrompt },
    batch: { poll_interval: "50ms" },
    sinks: [{ use: "jsonl", path: "./out/results.jsonl" }],
  };
  const error = await runSpec(spec, { dir: tempDir(), builtins: officialPlugins }).then(
    () => undefined,
    (caught: BatchpipeError) => caught,
  );
  expect({
    code: error?.code,
    plugin: error?.plugin,
    message: error?.message,
    hint: error?.hint,
    cause: (error?.cause as Error | undefined)?.message,
  }).toMatchInlineSnapshot(`
    {
      "cause": "ENOENT: no such file or directory, open 'prompts/ask.liquid'",
      "code": "PLUGIN_FAILED",
      "hint": "Fix the plugin's problem and run again.",
      "message": "transform (missing-prompt) failed in create: ENOENT: no such file or directory, open 'prompts/ask.liquid'",
      "plugin": "transform (missing-prompt)",
    }
  `);
});
