// @batchpipe/core's runSpec knows no official plugin by name (docs/programmatic-api.md): a spec that
// names one was told to install the package "beside the spec" or to use the command line, never the
// two ways a program has: runSpec from `batchpipe`, or builtins: officialPlugins.
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { ROOT, runNode, tempDir } from "../../batchpipe/test/support/harness.js";

it("an official plugin named in a spec given to @batchpipe/core without builtins: the hint says how from code", async () => {
  const dir = tempDir("bp-official-hint-");
  const core = path.join(ROOT, "packages/core/dist/index.js");
  // a program of its own, in a folder without node_modules (as an app that depends on @batchpipe/core)
  fs.writeFileSync(
    path.join(dir, "app.mjs"),
    `import { resolveSpec } from ${JSON.stringify(core)};
const spec = {
  version: 1,
  name: "official-hint",
  provider: { use: "emulator" },
  source: { use: "jsonl", path: "./in.jsonl" },
  transform: { id: "{{ id }}", body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "x" }] } },
  sinks: [{ use: "jsonl", path: "./out.jsonl" }],
  errors: [{ use: "jsonl", path: "./errors.jsonl" }],
};
const error = await resolveSpec(spec, { dir: process.cwd() }).then(() => undefined, (e) => e);
console.log(JSON.stringify({ code: error?.code, details: error?.details?.map((d) => ({ message: d.message, hint: d.hint })) }));
`,
  );
  const result = await runNode(["app.mjs"], { cwd: dir });
  expect(result.stderr).toBe("");
  const { code, details } = JSON.parse(result.stdout) as {
    code: string;
    details: { message: string; hint: string }[];
  };
  expect(code).toBe("SPEC_INVALID");
  expect(details.map((d) => /"(\w+)"/.exec(d.message)?.[1])).toEqual(["emulator", "jsonl", "jsonl", "jsonl"]);
  for (const detail of details) {
    expect(detail.message).toContain("cannot find the");
    expect(detail.hint).toContain('(from code: import runSpec or BatchRunner from "batchpipe"');
    expect(detail.hint).toContain('builtins: officialPlugins from "batchpipe"');
  }
}, 60_000);

it("the plugins a spec did not name (provider openai, the errors sink jsonl): the message says they are the defaults", async () => {
  const dir = tempDir("bp-implied-hint-");
  const core = path.join(ROOT, "packages/core/dist/index.js");
  fs.writeFileSync(
    path.join(dir, "app.mjs"),
    `import { resolveSpec } from ${JSON.stringify(core)};
const spec = { version: 1, name: "implied-hint", source: { use: "jsonl", path: "./in.jsonl" }, transform: { id: "{{ id }}", body: { model: "gpt-4o-mini" } }, sinks: [{ use: "jsonl", path: "./out.jsonl" }] };
const error = await resolveSpec(spec, { dir: process.cwd() }).then(() => undefined, (e) => e);
console.log(JSON.stringify(error?.details?.map((d) => [d.path, d.message])));
`,
  );
  const result = await runNode(["app.mjs"], { cwd: dir });
  expect(result.stderr).toBe("");
  const details = JSON.parse(result.stdout) as [string, string][];
  const at = (where: string) => details.find(([p]) => p === where)?.[1];
  expect(at("provider.use")).toContain("(the default provider: the spec names none)");
  expect(at("errors[0].use")).toContain("(the default errors sink: the spec has no errors:)");
  // a plugin the spec names is not called a default
  expect(at("source.use")).not.toContain("default");
  expect(at("sinks[0].use")).not.toContain("default");
}, 60_000);
