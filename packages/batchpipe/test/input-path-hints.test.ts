// A source `path` that names no file: the hint says where the path was looked for, so that it
// leads to the fix. The real CLI in a child process, started from another folder than the spec's.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, writeFiles } from "./support/harness.js";

/** a spec over the in-process emulator with `source` */
function spec(source: string): string {
  return [
    "version: 1",
    "name: hints",
    "provider: { use: emulator, emulator: { timeScale: 3600 } }",
    `source: ${source}`,
    "transform:",
    '  id: "{{ id }}"',
    '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
    "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
    "",
  ].join("\n");
}

// a source that hands its `path` option to resolveInputFiles without ctx.resolvePath()
const RAW_SOURCE = `
import { defineSource, resolveInputFiles, z } from "@batchpipe/core/plugin";

export default defineSource({
  name: "raw",
  options: z.strictObject({ path: z.string() }),
  async *read({ options, checkpoint }) {
    const { files } = await resolveInputFiles(options.path, {
      extensions: [".jsonl"],
      plugin: "source:raw",
      checkpoint,
      cursorFields: [],
    });
    for (const [i, file] of files.entries()) yield { data: { id: String(i), text: file }, position: { file, line: 1 }, cursor: { file } };
  },
});
`;

function hintOf(stderr: string): string | undefined {
  return stderr
    .split("\n")
    .find((line) => line.startsWith("  hint:"))
    ?.slice("  hint: ".length);
}

describe("the hint of a source path that names no file (real CLI)", () => {
  it("plan: a relative `path` is said to be resolved from the spec file's folder, at its place in the spec, with the path it gave", async () => {
    // the data sits beside the current folder, the spec one folder down: ./data/in.jsonl misses it
    const dir = writeFiles({
      "specs/pipeline.yaml": spec("{ use: jsonl, path: ./data/in.jsonl }"),
      "data/in.jsonl": '{"id":"a","text":"x"}\n',
    });
    const plan = await batchpipe(["plan", "specs/pipeline.yaml"], { cwd: dir });
    expect(plan.code).toBe(2);
    expect(plan.stderr.trim()).toMatchInlineSnapshot(`
      "specs/pipeline.yaml:4:29 source.path: no such file or folder: specs/data/in.jsonl
        2 | name: hints
        3 | provider: { use: emulator, emulator: { timeScale: 3600 } }
      > 4 | source: { use: jsonl, path: ./data/in.jsonl }
          |                             ^^^^^^^^^^^^^^^
        5 | transform:
        6 |   id: "{{ id }}"
        hint: check the path; it is relative to the spec file

      ✖ specs/pipeline.yaml has a problem (SPEC_INVALID)"
    `);
  });

  it("a source that passes its `path` unresolved: the hint names the current folder it was looked for in, and ctx.resolvePath", async () => {
    const dir = writeFiles({
      "specs/pipeline.yaml": spec("{ use: ./plugins/raw.ts, path: ./in.jsonl }"),
      "specs/plugins/raw.ts": RAW_SOURCE,
      "specs/in.jsonl": '{"id":"a","text":"x"}\n',
    });
    fs.mkdirSync(path.join(dir, "elsewhere"));
    const run = await batchpipe(["run", "../specs/pipeline.yaml"], { cwd: path.join(dir, "elsewhere") });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("no such file or folder: ./in.jsonl");
    expect(hintOf(run.stderr)?.replaceAll(dir, "<dir>")).toContain(
      "The path was looked for from the current folder (<dir>/elsewhere), not from the spec file's folder: the source must resolve its `path` with ctx.resolvePath() before passing it to resolveInputFiles.",
    );
  });
});
