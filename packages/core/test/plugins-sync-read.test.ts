// A source written `*read()` without `async` (a JS plugin file): its generator was refused as "read()
// returned an empty object, not an async iterable of records", which names nothing the author wrote.
import { expect, it } from "vitest";
import { batchpipe, writeFiles } from "../../batchpipe/test/support/harness.js";

it("a source whose read() is a generator without async is told so", async () => {
  const dir = writeFiles({
    "numbers.mjs": `import { defineSource, z } from "batchpipe/plugin";
export default defineSource({
  name: "numbers",
  options: z.strictObject({}),
  *read() {
    for (let i = 1; i <= 3; i++) yield { data: { id: \`n\${i}\`, text: "x" }, position: { file: "numbers", line: i }, cursor: i };
  },
});
`,
    "pipeline.yaml": `version: 1
name: sync-read
provider: { use: emulator, emulator: { timeScale: 3600 } }
source: { use: ./numbers.mjs }
transform: { body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] } }
batch: { poll_interval: 50ms }
sinks: [{ use: jsonl, path: ./out/results.jsonl }]
`,
  });
  const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
  expect(run.stderr).toContain(
    "✖ source (numbers) broke the plugin contract: read() returned a generator that is not async (`*read` without `async`), not an async iterable of records (PLUGIN_INVALID)",
  );
  expect(run.stderr).toContain("Write read as an async generator, `async *read(ctx) {");
  expect(run.code).toBe(2);
}, 60_000);
