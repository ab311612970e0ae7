import fs from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { officialPlugins, ROOT, runNode, writeFiles } from "../../batchpipe/test/support/harness.js";
import { type BatchpipeError, formatSpecError, loadPipeline, resolvePlugin } from "../src/index.js";

const fixtures = fileURLToPath(new URL("fixtures/spec/custom-plugin/", import.meta.url));
const CORE = join(ROOT, "packages/core/dist/index.js");

async function loadError(file: string): Promise<BatchpipeError> {
  return loadPipeline(file, { env: {}, builtins: officialPlugins }).then(
    () => expect.unreachable("the spec loaded"),
    (error: BatchpipeError) => error,
  );
}

/** a package in node_modules: plain JS with a duck-typed options schema (no imports) */
function fakePackage(name: string, body: string): Record<string, string> {
  return {
    [`node_modules/${name}/package.json`]: JSON.stringify({ name, type: "module", exports: "./index.js" }),
    [`node_modules/${name}/index.js`]: body,
  };
}

const anyOptions = "{ safeParse: (value) => ({ success: true, data: value }) }";

describe("plugin resolution", () => {
  test("a TypeScript plugin beside the spec loads with jiti and runs, no build step", async () => {
    const pipeline = await loadPipeline(join(fixtures, "pipeline.yaml"), {
      env: {},
      builtins: officialPlugins,
    });
    expect(pipeline.transform.label).toBe("transform (upper)");
    expect(pipeline.transform.options).toEqual({ model: "gpt-4o-mini", field: "text" });
    const handle = await pipeline.transform.plugin.create({
      options: pipeline.transform.options,
      resolvePath: pipeline.resolvePath,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      signal: new AbortController().signal,
    });
    expect(handle.toRequest({ data: { id: "a", text: "hello" }, position: { file: "in", line: 1 } })).toEqual(
      {
        custom_id: "a",
        url: "/v1/chat/completions",
        body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "HELLO" }] },
      },
    );
  });

  test("a .ts plugin beside a spec with no node_modules imports @batchpipe/core/plugin from the running core", async () => {
    const dir = writeFiles({
      "plugins/shout.ts": `import { defineTransform, z } from "@batchpipe/core/plugin";
export const plugin = defineTransform({
  name: "shout",
  options: z.strictObject({ suffix: z.string().default("!") }),
  create: ({ options }) => ({
    toRequest: (record) => ({ custom_id: String(record.data.id), url: "/v1/embeddings", body: { model: "m", input: \`\${record.data.text}\${options.suffix}\` } }),
  }),
});
`,
    });
    const plugin = await resolvePlugin("transform", "./plugins/shout.ts", { dir });
    expect(plugin.name).toBe("shout");
    expect(plugin.options.parse({})).toEqual({ suffix: "!" });
  });

  test("a module of the wrong kind, a non-plugin and a missing file are reported at their `use`", async () => {
    const error = await loadError(join(fixtures, "wrong-kind.yaml"));
    expect(
      formatSpecError(error, { cwd: fixtures }).replaceAll(fixtures.replace(/\/$/, ""), "<fixtures>"),
    ).toMatchInlineSnapshot(`
      "wrong-kind.yaml:5:8 transform.use: ./plugins/wrong-kind.ts exports a sink plugin ("not-a-transform"), but a transform plugin is expected here (PLUGIN_INVALID)
        3 | source: { use: jsonl, path: ./data/in.jsonl }
        4 | transform:
      > 5 |   use: ./plugins/wrong-kind.ts
          |        ^^^^^^^^^^^^^^^^^^^^^^^
        6 | sinks:
        7 |   - use: ./plugins/not-a-plugin.ts
        hint: export the plugin as the default export: export default defineTransform({ name, options, create() {...} }) with defineTransform from "batchpipe/plugin" or "@batchpipe/core/plugin"

      wrong-kind.yaml:7:10 sinks[0].use: ./plugins/not-a-plugin.ts exports an object with keys transform, version, not a sink plugin (PLUGIN_INVALID)
        5 |   use: ./plugins/wrong-kind.ts
        6 | sinks:
      > 7 |   - use: ./plugins/not-a-plugin.ts
          |          ^^^^^^^^^^^^^^^^^^^^^^^^^
        8 |   - use: ./plugins/missing.ts
        hint: export the plugin as the default export: export default defineSink({ name, options, open() {...} }) with defineSink from "batchpipe/plugin" or "@batchpipe/core/plugin"

      wrong-kind.yaml:8:10 sinks[1].use: plugin file ./plugins/missing.ts does not exist (looked for plugins/missing.ts) (PLUGIN_NOT_FOUND)
        6 | sinks:
        7 |   - use: ./plugins/not-a-plugin.ts
      > 8 |   - use: ./plugins/missing.ts
          |          ^^^^^^^^^^^^^^^^^^^^
        hint: a path in \`use\` is relative to <fixtures> (the spec file's folder; for a pipeline given in code, its \`dir\`, default the current folder)

      ✖ wrong-kind.yaml has 3 problems (SPEC_INVALID)"
    `);
  });

  test("packages resolve from the spec's folder: @batchpipe/<kind>-<name> first, then batchpipe-<kind>-<name>", async () => {
    const plugin = (kind: string, name: string) =>
      `export default { kind: "${kind}", name: "${name}", options: ${anyOptions}, open: async () => ({}), read: async function* () {} };`;
    const dir = writeFiles({
      ...fakePackage("@batchpipe/sink-fake", plugin("sink", "official-fake")),
      ...fakePackage("batchpipe-sink-fake", plugin("sink", "community-fake")),
      ...fakePackage("batchpipe-sink-community", plugin("sink", "community")),
      "node_modules/batchpipe-sink-esm-only/package.json": JSON.stringify({
        name: "batchpipe-sink-esm-only",
        type: "module",
        exports: { ".": { import: "./index.js" } },
      }),
      "node_modules/batchpipe-sink-esm-only/index.js": plugin("sink", "esm-only"),
      "node_modules/batchpipe-sink-cjs/package.json": JSON.stringify({
        name: "batchpipe-sink-cjs",
        main: "main.cjs",
      }),
      "node_modules/batchpipe-sink-cjs/main.cjs": `module.exports = ${plugin("sink", "cjs").slice("export default ".length)}`,
      ...fakePackage(
        "@acme/batchpipe-sink-x",
        `export const plugin = ${plugin("sink", "acme").slice("export default ".length)}`,
      ),
    });
    expect((await resolvePlugin("sink", "fake", { dir })).name).toBe("official-fake");
    expect((await resolvePlugin("sink", "esm-only", { dir })).name).toBe("esm-only");
    expect((await resolvePlugin("sink", "cjs", { dir })).name).toBe("cjs");
    expect((await resolvePlugin("sink", "community", { dir })).name).toBe("community");
    expect((await resolvePlugin("sink", "@acme/batchpipe-sink-x", { dir })).name).toBe("acme");
  });

  test("the official plugins come from the registry the host passes; without one, from the spec's folder", async () => {
    const builtins = officialPlugins;
    const dir = writeFiles(
      fakePackage(
        "@batchpipe/source-jsonl",
        `export default { kind: "source", name: "jsonl-beside-the-spec", options: ${anyOptions}, read: async function* () {} };`,
      ),
    );
    expect(await resolvePlugin("source", "jsonl", { dir, builtins })).toBe(builtins.source!.jsonl);
    expect(await resolvePlugin("sink", "sqlite", { dir, builtins })).toBe(builtins.sink!.sqlite);
    // no registry (core alone): the package installed beside the spec, as any other
    expect((await resolvePlugin("source", "jsonl", { dir })).name).toBe("jsonl-beside-the-spec");
    // a registry does not replace core's own prompt transform
    const other = { transform: { prompt: builtins.sink!.jsonl } } as never;
    expect((await resolvePlugin("transform", "prompt", { dir, builtins: other })).name).toBe("prompt");
  });

  test("core alone, in a folder without the official packages: `use: sqlite` says which package to install", async () => {
    // a child process: `pnpm exec vitest` sets a NODE_PATH that would find every workspace package
    const script = `import { resolvePlugin } from ${JSON.stringify(CORE)};
const error = await resolvePlugin("sink", "sqlite", { dir: process.cwd() }).catch((error) => error);
console.log(JSON.stringify([error.code, error.message, error.hint]));`;
    const run = await runNode(["--input-type=module", "-e", script], { cwd: writeFiles({}) });
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toMatchInlineSnapshot(`
      [
        "PLUGIN_NOT_FOUND",
        "cannot find the sink plugin "sqlite" (tried the built-ins, @batchpipe/sink-sqlite, batchpipe-sink-sqlite)",
        "install @batchpipe/sink-sqlite beside the spec (\`npm i @batchpipe/sink-sqlite\`), or run the spec with the batchpipe command line, which includes it (from code: import runSpec or BatchRunner from "batchpipe" instead of "@batchpipe/core", or pass builtins: officialPlugins from "batchpipe")",
      ]
    `);
  });

  test("core alone: every official name's hint names the package it comes in, which `use` then finds", async () => {
    // a child process: `pnpm exec vitest` sets a NODE_PATH that would find every workspace package
    const script = `import { OFFICIAL_PLUGINS, resolvePlugin } from ${JSON.stringify(CORE)};
const hints = {};
for (const [kind, names] of Object.entries(OFFICIAL_PLUGINS))
  for (const name of names)
    hints[kind + " " + name] = await resolvePlugin(kind, name, { dir: process.cwd() }).then((p) => "found " + p.name, (e) => e.hint);
console.log(JSON.stringify(hints));`;
    const run = await runNode(["--input-type=module", "-e", script], { cwd: writeFiles({}) });
    expect(run.stderr).toBe("");
    const hints = JSON.parse(run.stdout);
    // core knows the package of each plugin the command line includes
    for (const [kind, registry] of Object.entries(officialPlugins))
      for (const name of Object.keys(registry!)) expect(hints).toHaveProperty([`${kind} ${name}`]);
    expect(hints).toMatchInlineSnapshot(`
      {
        "provider anthropic": "install @batchpipe/provider-anthropic beside the spec (\`npm i @batchpipe/provider-anthropic\`), or run the spec with the batchpipe command line, which includes it (from code: import runSpec or BatchRunner from "batchpipe" instead of "@batchpipe/core", or pass builtins: officialPlugins from "batchpipe")",
        "provider emulator": "install @batchpipe/openai-emulator beside the spec (\`npm i @batchpipe/openai-emulator\`), or run the spec with the batchpipe command line, which includes it (from code: import runSpec or BatchRunner from "batchpipe" instead of "@batchpipe/core", or pass builtins: officialPlugins from "batchpipe")",
        "provider openai": "install @batchpipe/provider-openai beside the spec (\`npm i @batchpipe/provider-openai\`), or run the spec with the batchpipe command line, which includes it (from code: import runSpec or BatchRunner from "batchpipe" instead of "@batchpipe/core", or pass builtins: officialPlugins from "batchpipe")",
        "sink jsonl": "install @batchpipe/sink-jsonl beside the spec (\`npm i @batchpipe/sink-jsonl\`), or run the spec with the batchpipe command line, which includes it (from code: import runSpec or BatchRunner from "batchpipe" instead of "@batchpipe/core", or pass builtins: officialPlugins from "batchpipe")",
        "sink postgres": "install @batchpipe/sink-postgres beside the spec (\`npm i @batchpipe/sink-postgres\`), or run the spec with the batchpipe command line, which includes it (from code: import runSpec or BatchRunner from "batchpipe" instead of "@batchpipe/core", or pass builtins: officialPlugins from "batchpipe")",
        "sink sqlite": "install @batchpipe/sink-sqlite beside the spec (\`npm i @batchpipe/sink-sqlite\`), or run the spec with the batchpipe command line, which includes it (from code: import runSpec or BatchRunner from "batchpipe" instead of "@batchpipe/core", or pass builtins: officialPlugins from "batchpipe")",
        "source csv": "install @batchpipe/source-csv beside the spec (\`npm i @batchpipe/source-csv\`), or run the spec with the batchpipe command line, which includes it (from code: import runSpec or BatchRunner from "batchpipe" instead of "@batchpipe/core", or pass builtins: officialPlugins from "batchpipe")",
        "source jsonl": "install @batchpipe/source-jsonl beside the spec (\`npm i @batchpipe/source-jsonl\`), or run the spec with the batchpipe command line, which includes it (from code: import runSpec or BatchRunner from "batchpipe" instead of "@batchpipe/core", or pass builtins: officialPlugins from "batchpipe")",
        "source parquet": "install @batchpipe/source-parquet beside the spec (\`npm i @batchpipe/source-parquet\`), or run the spec with the batchpipe command line, which includes it (from code: import runSpec or BatchRunner from "batchpipe" instead of "@batchpipe/core", or pass builtins: officialPlugins from "batchpipe")",
        "transform prompt": "found prompt",
      }
    `);
    // the emulator's package installed beside the spec: `use: emulator` finds its ./provider export
    const dir = writeFiles({});
    fs.mkdirSync(join(dir, "node_modules/@batchpipe"), { recursive: true });
    fs.symlinkSync(
      join(ROOT, "packages/openai-emulator"),
      join(dir, "node_modules/@batchpipe/openai-emulator"),
    );
    const found = await runNode(
      [
        "--input-type=module",
        "-e",
        `import { resolvePlugin } from ${JSON.stringify(CORE)};
const plugin = await resolvePlugin("provider", "emulator", { dir: process.cwd() });
console.log(plugin.kind, plugin.name);`,
      ],
      { cwd: dir },
    );
    expect(found.stderr).toBe("");
    expect(found.stdout.trim()).toBe("provider emulator");
  });

  test("a missing plugin names what was tried and no package name guessed from `use`; a near miss gets a suggestion", async () => {
    const dir = writeFiles({});
    const missing = await resolvePlugin("sink", "mysql", { dir }).catch((error) => error);
    expect([missing.code, missing.message, missing.hint]).toMatchInlineSnapshot(`
      [
        "PLUGIN_NOT_FOUND",
        "cannot find the sink plugin "mysql" (tried the built-ins, @batchpipe/sink-mysql, batchpipe-sink-mysql)",
        "the official sink plugins are jsonl, sqlite, postgres; for another, point at a plugin file (use: ./plugins/mysql.ts) or install a plugin package and give its name in \`use\`",
      ]
    `);
    const scoped = await resolvePlugin("sink", "@acme/batchpipe-sink-pg", { dir }).catch((error) => error);
    expect(scoped.hint).toMatchInlineSnapshot(
      `"install @acme/batchpipe-sink-pg beside the spec (\`npm i @acme/batchpipe-sink-pg\`)"`,
    );
    const typo = await resolvePlugin("sink", "sqlit", { dir }).catch((error) => error);
    expect(typo.hint).toBe('did you mean "sqlite"?');
  });

  test("a package exporting the wrong thing or failing to load is PLUGIN_INVALID, naming the package", async () => {
    const dir = writeFiles({
      ...fakePackage("batchpipe-sink-shape", "export default { write() {}, close() {} };"),
      ...fakePackage("batchpipe-sink-broken", 'throw new Error("boom at import");'),
      ...fakePackage("batchpipe-sink-factory", "export default () => ({});"),
    });
    const messages = [];
    for (const name of ["shape", "broken", "factory"]) {
      const error = await resolvePlugin("sink", name, { dir }).catch((thrown) => thrown);
      expect(error.code).toBe("PLUGIN_INVALID");
      messages.push(error.message);
    }
    expect(messages).toMatchInlineSnapshot(`
      [
        "batchpipe-sink-shape exports an object with keys write, close, not a sink plugin",
        "batchpipe-sink-broken failed to load: boom at import",
        "batchpipe-sink-factory exports a function (export the plugin object itself, not a factory), not a sink plugin",
      ]
    `);
  });

  test("a plugin missing its hook is rejected with what is missing", async () => {
    const error = await resolvePlugin("sink", { kind: "sink", name: "half", options: {} } as never, {
      dir: "/",
    }).catch((thrown) => thrown);
    expect(error.message).toMatchInlineSnapshot(
      `"the plugin object is a sink plugin ("half") that lacks options (a zod schema), open()"`,
    );
  });
});
