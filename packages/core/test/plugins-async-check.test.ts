// A plugin written with `async check()` (a JS plugin file, no type check): the spec check took the
// Promise for an answer with nothing in it, so what check() found was never said; one that
// rejected crashed `batchpipe validate` (and run) with an unhandled rejection (exit 1, a bare stack,
// no code). Now the spec check says check() must answer synchronously, at the plugin's `use`.
import { expect, it } from "vitest";
import { batchpipe, writeFiles } from "../../batchpipe/test/support/harness.js";

const plugin = (body: string) => `import { defineSink, z } from "batchpipe/plugin";
export default defineSink({
  name: "remote",
  options: z.strictObject({ url: z.string() }),
  async check({ options }) {
    ${body}
  },
  async open() {
    return { async write() {}, async commit() { return null; }, async close() {} };
  },
});
`;

const SPEC = `version: 1
name: async-check
provider: { use: emulator }
source: { use: jsonl, path: ./data.jsonl }
transform:
  id: "{{ id }}"
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }
sinks: [{ use: ./remote.mjs, url: "http://127.0.0.1:1/" }]
`;

it.each([
  ["rejects", 'throw new Error("cannot reach " + options.url);'],
  ["resolves with a problem", 'return { problems: [{ option: "url", message: "unreachable", hint: "x" }] };'],
])(
  "an async check() that %s: validate says check() must answer synchronously (exit 2, no crash)",
  async (_, body) => {
    const dir = writeFiles({
      "pipeline.yaml": SPEC,
      "remote.mjs": plugin(body),
      "data.jsonl": '{"id":"1","text":"a"}\n',
    });
    const validate = await batchpipe(["validate", "pipeline.yaml"], { cwd: dir });
    expect(validate.stderr).toContain('the sink plugin "remote" returned a Promise from check()');
    expect(validate.stderr).not.toContain("cannot reach");
    expect(validate.code, validate.stderr).toBe(2);
  },
  60_000,
);
