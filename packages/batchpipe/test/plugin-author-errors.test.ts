// What a plugin author meets, through the real CLI and real child processes: each message about a
// badly written plugin names the plugin, says what it handed back and what it should hand back; a
// project that depends on `batchpipe` alone can test its plugins with the conformance suite.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { batchpipe, FIXTURES, readJsonl, writeFiles } from "./support/harness.js";

/** an offline pipeline (the emulator in process) over `source` */
const offline = (source: string) => `version: 1
name: plugin-author
provider: { use: emulator, emulator: { timeScale: 3600 } }
source: ${source}
transform:
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }
batch: { poll_interval: 50ms }
sinks: [{ use: jsonl, path: ./out/results.jsonl }]
`;

/** a fixture plugin of test/fixtures/plugins with its options, as a spec's flow mapping */
const fixture = (file: string, options = "") =>
  `{ use: ${path.join(FIXTURES, "plugins", file)}${options ? `, ${options}` : ""} }`;

/** an offline pipeline over three jsonl records, with one part swapped for a fixture's */
const pipeline = (o: { source?: string; transform?: string; sink?: string }) => ({
  "data.jsonl": [1, 2, 3].map((i) => `${JSON.stringify({ id: `r${i}`, text: `hello ${i}` })}\n`).join(""),
  "pipeline.yaml": `version: 1
name: plugin-author
provider: { use: emulator, emulator: { timeScale: 3600 } }
source: ${o.source ?? "{ use: jsonl, path: ./data.jsonl }"}
transform: ${o.transform ?? '{ id: "{{ id }}", body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] } }'}
batch: { poll_interval: 50ms }
sinks: [${o.sink ?? "{ use: jsonl, path: ./out/results.jsonl }"}]
errors: [{ use: jsonl, path: ./out/errors.jsonl }]
`,
});

describe("a source that breaks its contract", () => {
  test("a record whose data is not an object is told what its data is", async () => {
    const source = `{ use: ${path.join(FIXTURES, "plugins/string-data-source.ts")} }`;
    const dir = writeFiles({ "pipeline.yaml": offline(source) });
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatchInlineSnapshot(`
      "✖ source (string-data) broke the plugin contract: yielded a record whose data is a string, not an object of the record's fields (PLUGIN_INVALID)
        hint: A source yields { data: { ...fields }, position: { file, line }, cursor } per record (SourceRecord in "batchpipe/plugin" or "@batchpipe/core/plugin"); fix the plugin. Nothing was submitted, the read starts over.
      "
    `);
  });

  test.each([
    ["a list", "", "a list"],
    ["a promise of a list", "promise: true", "a Promise"],
  ])("read() returning %s is told to be an async generator", async (_, options, returned) => {
    const dir = writeFiles(pipeline({ source: fixture("list-source.ts", options) }));
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr.replace(returned, "<returned>")).toMatchInlineSnapshot(`
      "✖ source (list) broke the plugin contract: read() returned <returned>, not an async iterable of records (PLUGIN_INVALID)
        hint: Write read as an async generator, \`async *read(ctx) { ... yield { data, position, cursor } }\`, so records stream one at a time (SourcePlugin in "batchpipe/plugin" or "@batchpipe/core/plugin"); fix the plugin. Nothing was submitted, the read starts over.
      "
    `);
  });

  test("a record whose cursor is a function is refused, not lost at the next checkpoint", async () => {
    const dir = writeFiles(pipeline({ source: fixture("function-cursor-source.ts") }));
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatchInlineSnapshot(`
      "✖ source (function-cursor) broke the plugin contract: yielded a record (list:1) whose cursor is a function, not a JSON value (PLUGIN_INVALID)
        hint: A record's cursor is a JSON value (a number, string, array or plain object) that read() gets back as ctx.checkpoint to resume after it; leave it undefined when the source cannot resume. Fix the plugin. Nothing was submitted, the read starts over.
      "
    `);
  });

  test("a cursor JSON cannot hold after the first record is refused at the read's checkpoint", async () => {
    const dir = writeFiles(pipeline({ source: fixture("function-cursor-source.ts", "from: 3") }));
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], {
      cwd: dir,
      engine: { readCheckpointEvery: 1 },
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      "✖ source (function-cursor) broke the plugin contract: yielded a record (list:3) whose cursor is a function, not a JSON value (PLUGIN_INVALID)",
    );
  });
});

describe("a sink that breaks its contract", () => {
  test("a commit() that throws on the first, empty commit after open is named as commit", async () => {
    const dir = writeFiles(pipeline({ sink: fixture("contract-breaking-sink.ts", "commit: throws") }));
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatchInlineSnapshot(`
      "✖ sinks[0] (contract-breaking) failed in commit: cannot read properties of undefined (reading 'fd') (PLUGIN_FAILED)
        hint: Fix the sink's problem and run again: the run resumes where it stopped.
      "
    `);
  });

  test("a commit() returning undefined is refused at that commit, before the sink gets a row", async () => {
    const dir = writeFiles(pipeline({ sink: fixture("contract-breaking-sink.ts", "commit: undefined") }));
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatchInlineSnapshot(`
      "✖ sinks[0] (contract-breaking) broke the plugin contract: commit() returned undefined, not a JSON checkpoint: the engine stores it as JSON and hands it back to open() as \`checkpoint\` when the run resumes (PLUGIN_INVALID)
        hint: Return a JSON value (a number, string, array or plain object) that says what is durable, e.g. the file's size (Checkpoint in "batchpipe/plugin" or "@batchpipe/core/plugin"); fix the plugin.
      "
    `);
    expect(run.events.some((e) => e.type === "shard_submitted")).toBe(false);
  });

  test.each([
    ["bigint", "a bigint (1n)"],
    ["map", "a Map"],
    ["function", "a checkpoint with a function at checkpoint.reopen"],
  ])(
    "a commit() returning what JSON does not give back (%s) is refused naming the sink",
    async (commit, what) => {
      const dir = writeFiles(pipeline({ sink: fixture("contract-breaking-sink.ts", `commit: ${commit}`) }));
      const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(
        `✖ sinks[0] (contract-breaking) broke the plugin contract: commit() returned ${what}, not a JSON checkpoint`,
      );
      expect(run.stderr).toContain("(PLUGIN_INVALID)");
    },
  );

  test("a close() that throws once every row is committed: the run succeeds and says so, naming the sink", async () => {
    const dir = writeFiles(pipeline({ sink: fixture("contract-breaking-sink.ts", "close_throws: true") }));
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.events.filter((e) => e.type === "warning")).toMatchInlineSnapshot(
      [{ run: expect.any(String) }],
      `
      [
        {
          "code": "PLUGIN_FAILED",
          "message": "sinks[0] (contract-breaking) failed in close: the connection was already closed (the rows it committed are delivered; check that it released what it holds, e.g. a file or a connection)",
          "run": Any<String>,
          "type": "warning",
        },
      ]
    `,
    );
    const again = writeFiles(pipeline({ sink: fixture("contract-breaking-sink.ts", "close_throws: true") }));
    const human = await batchpipe(["run", "pipeline.yaml"], { cwd: again });
    expect(human.code).toBe(0);
    expect(human.stderr).toContain(
      "⚠ sinks[0] (contract-breaking) failed in close: the connection was already closed",
    );
  });
});

describe("a transform that breaks its contract", () => {
  test("a toRequest() returning a string stops the run, naming the transform and the record", async () => {
    const dir = writeFiles(
      pipeline({ transform: fixture("contract-breaking-transform.ts", "returns: string") }),
    );
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatchInlineSnapshot(`
      "✖ transform (contract-breaking) broke the plugin contract: toRequest() returned a string ("Say: hello 1") for the record at data.jsonl:1, not a request { custom_id, url, body } (PLUGIN_INVALID)
        hint: toRequest(record) returns { custom_id, url, body } (RequestLine in "batchpipe/plugin" or "@batchpipe/core/plugin"), or throws a BatchpipeError for a record it cannot turn into a request; fix the plugin.
      "
    `);
  });

  test("a toRequest() that throws a plain Error stops the run, naming the transform, the record and the error", async () => {
    const dir = writeFiles(
      pipeline({ transform: fixture("contract-breaking-transform.ts", "returns: throws") }),
    );
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatchInlineSnapshot(`
      "✖ transform (contract-breaking) failed in toRequest() on the record at data.jsonl:1: it threw Error: no template for r1 (PLUGIN_FAILED)
        hint: For a record it cannot turn into a request, toRequest() throws a BatchpipeError (new BatchpipeError(code, message) from "batchpipe/plugin" or "@batchpipe/core/plugin"): that record becomes a failure row and the run goes on; anything else it throws stops the run. Fix the transform and run again.
      "
    `);
  });

  test.each(["run", "try", "plan"])(
    "a create() that throws a plain Error stops `%s`, naming the transform and the error",
    async (command) => {
      const dir = writeFiles(
        pipeline({ transform: fixture("contract-breaking-transform.ts", "create: throws") }),
      );
      const run = await batchpipe([command, "pipeline.yaml"], { cwd: dir });
      expect(run.code).toBe(1);
      expect(run.stderr.replace(/^▶ .*\n/, "")).toMatchInlineSnapshot(`
        "✖ transform (contract-breaking) failed in create: the prompt file templates/ask.liquid is missing (PLUGIN_FAILED)
          hint: Fix the plugin's problem and run again.
        "
      `);
    },
  );

  test.each([
    ["body-string", 'body is a string ("Say: hello 1")'],
    ["no-id", "custom_id is undefined"],
  ])(
    "a request whose fields are wrong (%s) fails each record, saying which transform, where and what to return",
    async (returns, what) => {
      const dir = writeFiles(
        pipeline({ transform: fixture("contract-breaking-transform.ts", `returns: ${returns}`) }),
      );
      const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
      expect(run.code).toBe(3);
      const failures = readJsonl<{ error: { code: string; message: string } }>(
        path.join(dir, "out/errors.jsonl"),
      );
      expect(failures.map((f) => f.error.code)).toEqual([
        "invalid_request",
        "invalid_request",
        "invalid_request",
      ]);
      expect(failures[0]!.error.message).toBe(
        `transform (contract-breaking) returned a request whose ${what} for the record at data.jsonl:1: ${
          returns === "no-id"
            ? "return { custom_id, url, body } with custom_id a non-empty string (the record's id)"
            : 'return { custom_id, url, body } with url the endpoint\'s path (e.g. "/v1/chat/completions") and body an object (e.g. { model, messages })'
        }`,
      );
    },
  );
});

test("a project that depends on batchpipe alone runs the conformance suite from batchpipe/testing", () => {
  // the layout pnpm gives an app: only `batchpipe` in its node_modules (@batchpipe/core is not importable)
  const app = writeFiles({
    "package.json": JSON.stringify({ type: "module", private: true }),
    "check.mjs": `import { testSink } from "batchpipe/testing";
import { defineSink, z } from "batchpipe/plugin";
const rows = new Map();
const memory = defineSink({
  name: "memory",
  options: z.strictObject({ key: z.string() }),
  async open({ checkpoint }) {
    const kept = new Map(checkpoint ?? []);
    rows.clear();
    for (const [id, row] of kept) rows.set(id, row);
    let pending = [];
    return {
      async write(batch) { pending.push(...batch); },
      async commit() {
        for (const row of pending) rows.set(row.id, { id: row.id, status: row.status });
        pending = [];
        return [...rows];
      },
      async close() {},
    };
  },
});
const checks = testSink(memory, { makeOptions: () => ({ key: "k" }), readBack: () => [...rows.values()] });
const failed = [];
for (const check of checks) await check.run().catch((error) => failed.push(check.name + ": " + error.message));
console.log(JSON.stringify({ checks: checks.length, failed }));
`,
  });
  fs.mkdirSync(path.join(app, "node_modules"));
  fs.symlinkSync(path.resolve(import.meta.dirname, ".."), path.join(app, "node_modules/batchpipe"), "dir");
  const env = { ...process.env };
  delete env.NODE_PATH;
  const run = spawnSync(process.execPath, ["check.mjs"], { cwd: app, env, encoding: "utf8" });
  expect(run.stderr).toBe("");
  expect(JSON.parse(run.stdout)).toEqual({ checks: expect.any(Number), failed: [] });
});
