// A plugin object given inline to runSpec (`use: mySink`) that is not a whole plugin (a JavaScript
// author forgot `options`, or misspelt `open`) is refused at its place in the spec, naming what it
// lacks: it was dropped from the spec without a word, and the run "completed" with its results
// delivered nowhere.
import { describe, expect, it } from "vitest";
import { officialPlugins, tempDir } from "../../batchpipe/test/support/harness.js";
import { type BatchpipeError, type RunResult, runSpec } from "../src/index.js";
import { defineSink, defineSource, type SinkPlugin, type SourcePlugin, z } from "../src/plugin.js";

const numbers = defineSource({
  name: "numbers",
  options: z.strictObject({}),
  async *read() {
    for (let i = 1; i <= 3; i++)
      yield { data: { id: `n${i}` }, position: { file: "numbers", line: i }, cursor: i };
  },
});

const spec = (source: unknown, sink: unknown) => ({
  version: 1,
  name: "inline-plugin-shape",
  provider: { use: "emulator", emulator: { timeScale: 3600 } },
  source: { use: source },
  transform: {
    id: "{{ id }}",
    body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "{{ id }}" }] },
  },
  batch: { poll_interval: "50ms" },
  sinks: [{ use: sink }],
});

const outcome = async (source: unknown, sink: unknown) => {
  const settled = await runSpec(spec(source, sink), { dir: tempDir(), builtins: officialPlugins }).then(
    (result: RunResult) => ({ status: result.status, succeeded: result.report.succeeded }),
    (error: BatchpipeError) => ({ code: error.code, message: error.message, hint: error.hint }),
  );
  return settled;
};

describe("runSpec: an inline plugin object that is not a whole plugin", () => {
  it("a sink without options is refused, not dropped with its results", async () => {
    const sink = defineSink({
      name: "no-options",
      async open() {
        return {
          async write() {},
          async commit() {
            return 0;
          },
          async close() {},
        };
      },
    } as unknown as Omit<SinkPlugin, "kind">);
    expect(await outcome(numbers, sink)).toMatchInlineSnapshot(`
      {
        "code": "SPEC_INVALID",
        "hint": "make it with defineSink({ name, options, open() {...} }): options is a zod schema (z from "batchpipe/plugin" or "@batchpipe/core/plugin")",
        "message": "the pipeline spec has a problem at sinks[0].use: the plugin object is a sink plugin ("no-options") that lacks options (a zod schema)",
      }
    `);
  });

  it("a source whose read is misspelt is refused at source.use", async () => {
    const source = { kind: "source", name: "typo", options: z.strictObject({}), async *raed() {} };
    const sink = defineSink({
      name: "nothing",
      options: z.strictObject({}),
      async open() {
        return {
          async write() {},
          async commit() {
            return 0;
          },
          async close() {},
        };
      },
    });
    expect(await outcome(source as unknown as SourcePlugin, sink)).toMatchInlineSnapshot(`
      {
        "code": "SPEC_INVALID",
        "hint": "make it with defineSource({ name, options, read() {...} }): options is a zod schema (z from "batchpipe/plugin" or "@batchpipe/core/plugin")",
        "message": "the pipeline spec has a problem at source.use: the plugin object is a source plugin ("typo") that lacks read()",
      }
    `);
  });
});
