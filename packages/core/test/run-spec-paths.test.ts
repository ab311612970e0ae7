// A spec object given to runSpec has no file: a path it cannot find is said to be relative to the
// folder it was given (`dir`), not to a spec file there is none of.
import path from "node:path";
import { expect, it } from "vitest";
import { officialPlugins, tempDir } from "../../batchpipe/test/support/harness.js";
import { type BatchpipeError, runSpec } from "../src/index.js";

it("runSpec: a missing input path is relative to its dir, not to a spec file", async () => {
  const dir = tempDir("bp-run-spec-paths-");
  const spec = {
    version: 1,
    name: "paths",
    provider: { use: "emulator", emulator: { timeScale: 3600 } },
    source: { use: "jsonl", path: "./missing.jsonl" },
    transform: { body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "{{ text }}" }] } },
    sinks: [{ use: "jsonl", path: "./out/results.jsonl" }],
  };
  const error = (await runSpec(spec, { dir, builtins: officialPlugins }).catch((e) => e)) as BatchpipeError;
  expect(error.code).toBe("SPEC_INVALID");
  const text = `${error.message}\n${error.hint ?? ""}`.replaceAll(dir, "<dir>");
  expect(text).toContain(`no such file or folder: ${path.join("<dir>", "missing.jsonl")}`);
  expect(text).toContain(
    "relative to the spec's dir (<dir>; runSpec's `dir` option, default the current folder)",
  );
  expect(text).not.toContain("relative to the spec file");
});

it("runSpec: a missing plugin file in `use` is relative to its dir, and the hint names that folder", async () => {
  const dir = tempDir("bp-run-spec-paths-");
  const spec = {
    version: 1,
    name: "paths",
    provider: { use: "emulator", emulator: { timeScale: 3600 } },
    source: { use: "./plugins/missing-source.ts" },
    transform: { body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "{{ text }}" }] } },
    sinks: [{ use: "jsonl", path: "./out/results.jsonl" }],
  };
  const error = (await runSpec(spec, { dir, builtins: officialPlugins }).catch((e) => e)) as BatchpipeError;
  expect(error.code).toBe("SPEC_INVALID");
  const problems = (error.details ?? []).map((d) => `${d.message}\n${d.hint ?? ""}`.replaceAll(dir, "<dir>"));
  expect(problems).toEqual([
    `plugin file ./plugins/missing-source.ts does not exist (looked for ${path.join("<dir>", "plugins/missing-source.ts")})\na path in \`use\` is relative to <dir> (the spec file's folder; for a pipeline given in code, its \`dir\`, default the current folder)`,
  ]);
});
