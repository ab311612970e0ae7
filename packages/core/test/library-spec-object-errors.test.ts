// A spec given as an object (runSpec / resolveSpec) has no file, no line and no `batchpipe validate`:
// the SPEC_INVALID error must say in its message where each problem is and what to do.
import { describe, expect, it } from "vitest";
import { officialPlugins, tempDir } from "../../batchpipe/test/support/harness.js";
import { type BatchpipeError, runSpec } from "../src/index.js";
import { defineSource, z } from "../src/plugin.js";

const numbers = defineSource({
  name: "numbers",
  options: z.strictObject({ count: z.number().int() }),
  async *read({ options }) {
    for (let i = 1; i <= options.count; i++)
      yield { data: { id: `n${i}` }, position: { file: "numbers", line: i }, cursor: i };
  },
});

const spec = () => ({
  version: 1,
  name: "spec-object-errors",
  provider: { use: "emulator" },
  source: { use: numbers, count: 3 as unknown },
  transform: {
    endpoint: "/v1/chat/completions",
    id: "{{ id }}",
    body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "{{ id }}" }] },
  },
  batch: { poll_interval: "1s" } as Record<string, unknown>,
  sinks: [{ use: "jsonl", path: "./out.jsonl" }],
});

const failure = async (s: unknown) => {
  const error = (await runSpec(s, { dir: tempDir(), builtins: officialPlugins }).catch(
    (e) => e,
  )) as BatchpipeError;
  return { code: error.code, message: error.message, hint: error.hint };
};

describe("runSpec: a spec object's problems", () => {
  it("one problem: its path, what is wrong and its hint", async () => {
    const s = spec();
    s.batch.poll_intervl = "2s";
    expect(await failure(s)).toMatchInlineSnapshot(`
      {
        "code": "SPEC_INVALID",
        "hint": "did you mean "poll_interval"?",
        "message": "the pipeline spec has a problem at batch.poll_intervl: unknown key "poll_intervl"",
      }
    `);
  });

  it("several problems: each with its path", async () => {
    const s = spec();
    s.source.count = "three";
    s.batch.poll_intervl = "2s";
    expect(await failure(s)).toMatchInlineSnapshot(`
      {
        "code": "SPEC_INVALID",
        "hint": "Fix them in the spec object and run again (each problem's hint is in error.details).",
        "message": "the pipeline spec has 2 problems:
        batch.poll_intervl: unknown key "poll_intervl"
        source.count: expected a number, got a string",
      }
    `);
  });
});
