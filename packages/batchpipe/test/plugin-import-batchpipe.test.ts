// A plugin file beside a spec, in a folder with no node_modules, could import the plugin API as
// `@batchpipe/core/plugin` (the loader points it at the running core) but not as `batchpipe/plugin`,
// the import docs/writing-plugins.md gives an app that depends on batchpipe alone: "Cannot find
// module 'batchpipe/plugin'". Both now resolve to the running core.
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { batchpipe, tempDir } from "./support/harness.js";

it("a plugin file beside the spec imports batchpipe/plugin without node_modules", async () => {
  const dir = tempDir();
  fs.writeFileSync(
    path.join(dir, "two.ts"),
    `import { defineSource, z } from "batchpipe/plugin";
export default defineSource({
  name: "two",
  options: z.strictObject({}),
  async *read() {
    for (const i of [1, 2]) yield { data: { id: \`r\${i}\`, text: "hi" }, position: { file: "two", line: i } };
  },
});
`,
  );
  fs.writeFileSync(
    path.join(dir, "pipeline.yaml"),
    `version: 1
name: import-batchpipe
provider: { use: emulator }
source: { use: ./two.ts }
transform:
  id: "{{ id }}"
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }
sinks: [{ use: jsonl, path: ./out.jsonl }]
`,
  );
  expect(fs.existsSync(path.join(dir, "node_modules"))).toBe(false);
  const plan = await batchpipe(["plan", "pipeline.yaml"], { cwd: dir });
  expect(plan.code, plan.stderr).toBe(0);
  expect(plan.stdout).toContain("2 records");
});
