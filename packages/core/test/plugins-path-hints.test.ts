// A path in `use` that names no file: `./plugins/upper.js` for upper.ts (the .js a NodeNext import
// writes for a .ts file, which jiti resolves inside the plugin) or `./plugins/upper` got only "a path
// in use is relative to <dir>", though the file sat there; `./plugins`, a folder, "failed to load:
// Cannot find module 'plugins'" with the hint "fix the error in the plugin module".
import { expect, it } from "vitest";
import { writeFiles } from "../../batchpipe/test/support/harness.js";
import { type BatchpipeError, resolveSpec } from "../src/index.js";

const PLUGIN = `import { defineTransform, z } from "batchpipe/plugin";
export default defineTransform({
  name: "upper",
  options: z.strictObject({}),
  create: () => ({ toRequest: (r) => ({ custom_id: String(r.data.id), url: "/v1/chat/completions", body: {} }) }),
});
`;

it.each([
  [
    "./plugins/upper.js",
    "plugin file ./plugins/upper.js does not exist",
    "did you mean use: ./plugins/upper.ts? (`use` names the plugin file itself, its extension included)",
  ],
  [
    "./plugins/upper",
    "plugin file ./plugins/upper does not exist",
    "did you mean use: ./plugins/upper.ts? (`use` names the plugin file itself, its extension included)",
  ],
  [
    "./plugins",
    "plugin file ./plugins is a folder",
    "name the plugin file in it: use: ./plugins/helper.mjs, use: ./plugins/upper.ts",
  ],
])("use: %s names the file that is there", async (use, message, hint) => {
  const dir = writeFiles({
    "plugins/upper.ts": PLUGIN,
    "plugins/helper.mjs": "export const x = 1;\n",
    "plugins/notes.md": "not a plugin\n",
  });
  const spec = {
    version: 1,
    name: "path-hints",
    provider: { use: "emulator" },
    source: { use: "./plugins/upper.ts" },
    transform: { use },
    sinks: [{ use: "./plugins/upper.ts" }],
  };
  const error = await resolveSpec(spec, { dir }).then(
    () => undefined,
    (caught: BatchpipeError) => caught,
  );
  const detail = error?.details?.find((d) => d.message.includes(`plugin file ${use} `));
  expect(detail?.code).toBe("PLUGIN_NOT_FOUND");
  expect(detail?.message).toContain(message);
  expect(detail?.hint).toBe(hint);
});
