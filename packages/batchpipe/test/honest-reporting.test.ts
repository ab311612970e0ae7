// Issue 13 item 11, through the real CLI: `status` says a run that ended on an error is stopped,
// with the reason; `--json` ends with an error event; an empty source is a warning; a plugin that
// breaks its contract is named; a YAML quote or bracket never closed is shown where it opens; a
// `run` on a pipeline that `watch` processes is refused. A sink's field path into a text output
// is one warning that names the run.
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  batchpipe,
  cli,
  FIXTURES,
  readJsonl,
  records,
  signalOnce,
  startEmulator,
  startWatcher,
  tempDir,
  writeFiles,
  writePipeline,
} from "./support/harness.js";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu?.close();
});

/** an offline pipeline (the emulator in process) over `source` */
const offline = (source: string, sinks = "[{ use: jsonl, path: ./out/results.jsonl }]") => `version: 1
name: honest
provider: { use: emulator, emulator: { timeScale: 3600 } }
source: ${source}
transform:
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }
batch: { poll_interval: 50ms }
sinks: ${sinks}
`;

describe("honest reporting", () => {
  test("a field path into a text output: one warning naming the sink, the path and the fix, with the run's id; the rows lack it", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(20));
    fs.writeFileSync(
      path.join(dir, "pipeline.yaml"),
      offline(
        "{ use: jsonl, path: ./data.jsonl }",
        "[{ use: jsonl, path: ./out/lean.jsonl, fields: [id, output.sentiment] }]",
      ),
    );
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    const started = run.events.find((e) => e.type === "run_started") as { run: string };
    const warnings = run.events.filter((e) => e.type === "warning");
    expect(warnings).toEqual([
      {
        type: "warning",
        run: started.run,
        message: expect.stringMatching(
          /^jsonl sink \.\/out\/lean\.jsonl: fields: output\.sentiment has no value: in row "\S+" \(and maybe others\) `output` is text \(.*\), which has no fields\. Ask for JSON output in the request body/,
        ),
      },
    ]);
    const rows = readJsonl(path.join(dir, "out/lean.jsonl")) as Record<string, unknown>[];
    expect(rows).toHaveLength(20);
    for (const row of rows) expect(Object.keys(row)).toEqual(["id"]);
  });

  test("a run that ended on an error: --json ends with an error event; status says stopped, and why", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(20));
    fs.writeFileSync(path.join(dir, "broken"), "");
    writePipeline(dir, {
      baseUrl: emu.url,
      name: "stops",
      batch: { max_requests: 10 },
      sinks: [
        `- { use: ${path.join(FIXTURES, "plugins/flaky-sink.ts")}, path: ./out/results.jsonl, fail_marker: ./broken, fail_after: 10 }`,
      ],
    });
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.events.at(-1)).toEqual({
      type: "error",
      code: "PLUGIN_FAILED",
      message: "sinks[0] (flaky) failed in write: EIO: the disk went away",
      hint: "Fix the sink's problem and run again: the run resumes where it stopped.",
      plugin: "sinks[0] (flaky)",
      exitCode: 1,
    });
    const status = await batchpipe(["status", "pipeline.yaml"], { cwd: dir });
    // records, not requests: identical and cached records are counted too (it said "requests")
    expect(status.stdout).toMatch(/\n {2}records \d+\/\d+ done · ok \d+/);
    const shown = status.stdout
      .split("\n")
      .slice(0, 4)
      .join("\n")
      .replace(/r\d+-\w+/, "<run>")
      .replace(/ at \d{4}-[\d-]+T[\d:.]+Z/, " at <time>");
    expect(shown).toMatchInlineSnapshot(`
      "stops: run <run> stopped
        ended on: sinks[0] (flaky) failed in write: EIO: the disk went away (PLUGIN_FAILED) at <time>
        hint: Fix the sink's problem and run again: the run resumes where it stopped.
        resume with: batchpipe run pipeline.yaml"
    `);
    const json = JSON.parse((await batchpipe(["status", "pipeline.yaml", "--json"], { cwd: dir })).stdout);
    expect(json.run).toMatchObject({ status: "stopped", stopped: { code: "PLUGIN_FAILED" } });
    // resumed, then killed: stopped again, without the old reason
    const killed = await batchpipe(["run", "pipeline.yaml", "--json"], {
      cwd: dir,
      onEvent: (event, child) => {
        if (event.type === "run_started") signalOnce(child, "SIGKILL");
      },
    });
    expect(killed.signal).toBe("SIGKILL");
    const after = await batchpipe(["status", "pipeline.yaml"], { cwd: dir });
    expect(after.stdout.split("\n")[1]).toMatchInlineSnapshot(
      `"  the process running it is gone (killed, or the machine restarted); no error was recorded"`,
    );
  });

  test("--json: a spec error is an event too", async () => {
    const dir = writeFiles({ "pipeline.yaml": offline("{ use: jsonl, path: ./missing.jsonl }") });
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.events).toHaveLength(1);
    expect(run.events[0]).toMatchObject({
      type: "error",
      code: "SPEC_INVALID",
      exitCode: 2,
      problems: [
        { path: "source.path", message: expect.stringMatching(/^no such file or folder: .*missing.jsonl$/) },
      ],
    });
  });

  test("an empty source is a warning, not a green tick", async () => {
    const dir = writeFiles({
      "data.jsonl": "",
      "pipeline.yaml": offline("{ use: jsonl, path: ./data.jsonl }"),
    });
    const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stdout.split("\n")[0]!.replace(/r\d+-\w+/, "<run>")).toMatchInlineSnapshot(
      `"⚠ run <run> read no records: the source is empty, nothing was sent (check the source's path)"`,
    );
    const json = await batchpipe(["run", "pipeline.yaml", "--json", "--force"], { cwd: dir });
    expect(json.events.filter((e) => e.type === "warning")).toMatchObject([
      { message: "the source is empty, nothing was sent (check the source's path)" },
    ]);
    expect((await cli(["validate", "pipeline.yaml"], { cwd: dir })).stderr).toMatchInlineSnapshot(`
      "⚠ the source has no records: a run would have nothing to send
      "
    `);
  });

  test("validate on a source whose records are all invalid says so, not that it has none", async () => {
    const dir = writeFiles({
      "data.csv": "id,stars\na,x\nb,y\n",
      "pipeline.yaml": offline("{ use: csv, path: ./data.csv, types: { stars: integer } }"),
    });
    const validate = await cli(["validate", "pipeline.yaml"], { cwd: dir });
    expect(validate.code).toBe(0);
    expect(validate.stderr).toMatchInlineSnapshot(`
      "⚠ the source has no record a run could send: all 2 records are invalid (the first: data.csv:2: column "stars": expected integer, got "x"); a run would write each as a failure row. Fix the data or the source's options (e.g. types, columns), then validate again
      "
    `);
  });

  test("a plugin that breaks its contract is named, never 'a bug in batchpipe'", async () => {
    const source = `{ use: ${path.join(FIXTURES, "plugins/wrong-shape-source.ts")} }`;
    const dir = writeFiles({ "pipeline.yaml": offline(source) });
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatchInlineSnapshot(`
      "✖ source (wrong-shape) broke the plugin contract: yielded an object with keys id, text instead of a record { data, position, cursor } (PLUGIN_INVALID)
        hint: A source yields { data: { ...fields }, position: { file, line }, cursor } per record (SourceRecord in "batchpipe/plugin" or "@batchpipe/core/plugin"); fix the plugin. Nothing was submitted, the read starts over.
      "
    `);
    const sink = `[{ use: ${path.join(FIXTURES, "plugins/no-commit-sink.ts")} }]`;
    const other = writeFiles({
      "data.jsonl": records(2),
      "pipeline.yaml": offline("{ use: jsonl, path: ./data.jsonl }", sink),
    });
    const broken = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: other });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatchInlineSnapshot(`
      "✖ sinks[0] (no-commit) broke the plugin contract: open() returned a handle without commit() (PLUGIN_INVALID)
        hint: open() returns { write(rows), commit(key), close() } (SinkHandle in "batchpipe/plugin" or "@batchpipe/core/plugin"); fix the plugin.
      "
    `);
    expect(broken.events.some((e) => e.type === "shard_submitted")).toBe(false);
  });

  test("a quote or bracket never closed is shown where it opens", async () => {
    const dir = writeFiles({
      "quote.yaml": `version: 1
name: "honest
source: { use: jsonl, path: ./data.jsonl }
sinks: []
`,
      "bracket.yaml": `version: 1
name: honest
source: { use: jsonl, path: ./data.jsonl
sinks:
  - { use: jsonl, path: ./out/results.jsonl }
`,
    });
    expect((await cli(["validate", "quote.yaml"], { cwd: dir })).stderr).toMatchInlineSnapshot(`
      "quote.yaml:2:7 this " is never closed
        1 | version: 1
      > 2 | name: "honest
          |       ^
        3 | source: { use: jsonl, path: ./data.jsonl }
        4 | sinks: []
        hint: end the value with " (write \\" for a quote inside it)

      ✖ quote.yaml has a problem (SPEC_INVALID)
      "
    `);
    expect((await cli(["validate", "bracket.yaml"], { cwd: dir })).stderr).toMatchInlineSnapshot(`
      "bracket.yaml:3:9 this { is never closed
        1 | version: 1
        2 | name: honest
      > 3 | source: { use: jsonl, path: ./data.jsonl
          |         ^
        4 | sinks:
        5 |   - { use: jsonl, path: ./out/results.jsonl }
        hint: close it with }; a { } or [ ] that spans lines must indent its lines more than its key

      ✖ bracket.yaml has a problem (SPEC_INVALID)
      "
    `);
  });

  // the refusal spoke of paying twice, which the result cache prevents; losing rows is the risk:
  // run --force rewrites the jsonl sink with that run's rows only, so the rows of a file processed
  // and moved away are gone (4 rows → 2)
  test("run refuses a pipeline that watch processes, saying the watcher's rows would be lost; --force starts over", async () => {
    const dir = writeFiles({
      "data/a.jsonl": records(2),
      "pipeline.yaml": offline("{ use: jsonl, path: ./data/ }"),
    });
    const first = startWatcher(dir, undefined, ["--once", "--settle", "200ms"]);
    expect((await first.done).code).toBe(0);
    fs.writeFileSync(path.join(dir, "data/b.jsonl"), records(2, 3));
    const second = startWatcher(dir, undefined, ["--once", "--settle", "200ms"]);
    expect((await second.done).code).toBe(0);
    const results = path.join(dir, "out/results.jsonl");
    expect(readJsonl(results)).toHaveLength(4);
    // a processed file is archived: only the watcher's rows hold its results now
    fs.renameSync(path.join(dir, "data/a.jsonl"), path.join(dir, "a.jsonl"));

    const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr.replaceAll(dir, "<dir>")).toMatchInlineSnapshot(`
      "✖ this pipeline is processed by \`batchpipe watch\` (2 files taken so far): a run would read the whole source as one new dataset, and its sinks would then hold that run's rows only: the rows of files processed and no longer in the folder would be lost (USAGE)
        hint: to process what is in the folder now, run batchpipe watch pipeline.yaml --once (new and changed files; the rows so far stay). To start the outputs over from the whole source, losing the rows of files no longer there: run with --force
      "
    `);
    // the watcher's results are untouched
    expect(
      readJsonl<{ id: string }>(results)
        .map((r) => r.id)
        .sort(),
    ).toEqual(["r1", "r2", "r3", "r4"]);

    // the way the hint gives to start over: the whole source (what is left of it) anew
    const anew = await batchpipe(["run", "pipeline.yaml", "--force"], { cwd: dir });
    expect(anew.code, anew.stderr).toBe(0);
    expect(
      readJsonl<{ id: string }>(results)
        .map((r) => r.id)
        .sort(),
    ).toEqual(["r3", "r4"]);
  });
});
