// runSpec's `plugins` map names to plugin objects: a `use` that misspells one of them got a hint
// about the official plugins and plugin files, never the name the program itself had given.
import { expect, it } from "vitest";
import { officialPlugins, tempDir } from "../../batchpipe/test/support/harness.js";
import { type BatchpipeError, BatchRunner, resolveSpec } from "../src/index.js";
import { defineSink, defineSource, z } from "../src/plugin.js";

const memory = defineSink({
  name: "memory",
  options: z.strictObject({}),
  async open() {
    return { async write() {}, commit: async () => 0, async close() {} };
  },
});
// a source of a close name: only the plugins of the slot's kind are suggested
const memo = defineSource({
  name: "memo",
  options: z.strictObject({}),
  async *read() {},
});

it("a use that misspells a name given in `plugins` is answered with that name", async () => {
  const spec = {
    version: 1,
    name: "did-you-mean",
    provider: { use: "emulator" },
    source: { use: memo },
    transform: { id: "{{ id }}", body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "x" }] } },
    sinks: [{ use: "memry" }],
  };
  const error = await resolveSpec(spec, {
    dir: tempDir(),
    plugins: { memory, memo },
    builtins: officialPlugins,
  }).then(
    () => undefined,
    (caught: BatchpipeError) => caught,
  );
  expect({ code: error?.code, message: error?.message, hint: error?.hint }).toMatchInlineSnapshot(`
    {
      "code": "SPEC_INVALID",
      "hint": "did you mean "memory"?",
      "message": "the pipeline spec has a problem at sinks[0].use: cannot find the sink plugin "memry" (tried the plugins given in code, the built-ins, @batchpipe/sink-memry, batchpipe-sink-memry)",
    }
  `);
});

it("a runner's misspelt provider is answered with the name alone, not the note on keys and provider options", async () => {
  class Runner extends BatchRunner {
    static override workConfig = {
      name: "did-you-mean-runner",
      model: "gpt-4o-mini",
      provider: { use: "openia" },
    };
    static override builtins = officialPlugins;
    static override upload() {
      return [];
    }
  }
  const error = await Runner.run({ dir: tempDir() }).then(
    () => undefined,
    (caught: BatchpipeError) => caught,
  );
  expect({ code: error?.code, message: error?.message, hint: error?.hint }).toEqual({
    code: "SPEC_INVALID",
    message:
      'Runner.workConfig.provider.use: cannot find the provider plugin "openia" (tried the built-ins, @batchpipe/provider-openia, batchpipe-provider-openia)',
    hint: 'did you mean "openai"?',
  });
});
