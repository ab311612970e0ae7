// writing-plugins.md: a transform fails one record by throwing a BatchpipeError; with the record's id
// as recordId the failure row carries that id (so an errors sink forgets it once the record succeeds),
// without it the row's id is the record's place. The doc told to throw a code "such as
// template_error" and said nothing of recordId: the rows it led to stayed in a sqlite errors sink.
import path from "node:path";
import { expect, it } from "vitest";
import { officialPlugins, querySqlite, writeFiles } from "../../batchpipe/test/support/harness.js";
import { runSpec } from "../src/index.js";
import { BatchpipeError, defineTransform, z } from "../src/plugin.js";

const summarize = defineTransform({
  name: "summarize",
  options: z.strictObject({ fail: z.boolean(), recordId: z.boolean() }),
  create({ options }) {
    return {
      toRequest(record) {
        const { id, text } = record.data as { id: string; text: string };
        if (options.fail && text === "")
          throw new BatchpipeError(
            "missing_text",
            "the record has no text",
            options.recordId ? { recordId: id } : {},
          );
        return {
          custom_id: id,
          url: "/v1/chat/completions",
          body: { model: "gpt-4o-mini", messages: [{ role: "user", content: text || "(none)" }] },
        };
      },
    };
  },
});

it.each([
  [true, ["2"], []],
  [false, ["data.jsonl:2"], ["data.jsonl:2"]],
])(
  "recordId %s: the failure row's id, and what the errors sink keeps once the record succeeds",
  async (recordId, failed, kept) => {
    const dir = writeFiles({ "data.jsonl": '{"id":"1","text":"a"}\n{"id":"2","text":""}\n' });
    const spec = (fail: boolean) => ({
      version: 1,
      name: "record-failure-id",
      provider: { use: "emulator", emulator: { timeScale: 3600 } },
      source: { use: "jsonl", path: "./data.jsonl" },
      transform: { use: summarize, fail, recordId },
      batch: { poll_interval: "50ms" },
      sinks: [{ use: "sqlite", path: "./results.sqlite" }],
      errors: [{ use: "sqlite", path: "./errors.sqlite" }],
    });
    const errorIds = () =>
      querySqlite<{ id: string }>(path.join(dir, "errors.sqlite"), "select id from results").map((r) => r.id);
    const first = await runSpec(spec(true), { dir, builtins: officialPlugins });
    expect(first.report.failedByCode).toEqual({ missing_text: 1 });
    expect(errorIds()).toEqual(failed);
    await runSpec(spec(false), { dir, builtins: officialPlugins });
    expect(errorIds()).toEqual(kept);
  },
  60_000,
);
