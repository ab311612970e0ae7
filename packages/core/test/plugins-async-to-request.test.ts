// A transform written with `async toRequest()` (a JS plugin file, no type check): the engine took the
// Promise for a request. A record whose promise rejected crashed the CLI with an unhandled rejection
// (exit 1, a bare stack, no code); the others failed one by one as invalid_request ("custom_id is
// undefined"). Now the first record stops the run with PLUGIN_INVALID naming the transform and the fix.
import { expect, it } from "vitest";
import { batchpipe, readJsonl, writeFiles } from "../../batchpipe/test/support/harness.js";

const PLUGIN = `import { defineTransform, z } from "batchpipe/plugin";
export default defineTransform({
  name: "lookup",
  options: z.strictObject({}),
  create() {
    return {
      async toRequest(record) {
        const { id, text } = record.data;
        if (text === "b") throw new Error("lookup failed for b");
        return { custom_id: id, url: "/v1/chat/completions", body: { model: "gpt-4o-mini", messages: [{ role: "user", content: text }] } };
      },
    };
  },
});
`;

const SPEC = `version: 1
name: async-to-request
provider: { use: emulator, emulator: { timeScale: 3600 } }
source: { use: jsonl, path: ./data.jsonl }
transform: { use: ./lookup.mjs }
batch: { poll_interval: 50ms }
sinks: [{ use: jsonl, path: ./out/results.jsonl }]
errors: [{ use: jsonl, path: ./out/errors.jsonl }]
`;

it.each([
  ["a record's promise rejects", '{"id":"1","text":"b"}\n{"id":"2","text":"a"}\n'],
  ["every promise resolves", '{"id":"1","text":"a"}\n{"id":"2","text":"c"}\n'],
])(
  "an async toRequest() stops the run with PLUGIN_INVALID naming the transform (%s)",
  async (_, data) => {
    const dir = writeFiles({ "pipeline.yaml": SPEC, "lookup.mjs": PLUGIN, "data.jsonl": data });
    const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(run.stderr).toContain(
      "✖ transform (lookup) broke the plugin contract: toRequest() returned a Promise for the record at data.jsonl:1: it must return the request itself (PLUGIN_INVALID)",
    );
    expect(run.stderr).toContain(
      "do the async work (a file, a lookup table) in create(), which may be async",
    );
    expect(run.stderr).not.toContain("lookup failed for b");
    expect(run.code).toBe(2);
    // nothing was sent, and no record was failed for a request it never had
    expect(readJsonl(`${dir}/out/errors.jsonl`)).toEqual([]);
  },
  60_000,
);
