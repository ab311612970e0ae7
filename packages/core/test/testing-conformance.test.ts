import { appendFileSync, existsSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { defineSink, defineSource, type SinkPlugin, type SourcePlugin, z } from "../src/plugin.js";
import { type ConformanceCheck, testSink, testSource } from "../src/testing/index.js";

/** A minimal JSONL sink; `flaws` switch off the parts exactly-once depends on. */
function fileSink(
  flaws: { noTruncate?: boolean; laxOptions?: boolean; checkpoint?: (size: number) => unknown } = {},
): SinkPlugin {
  const shape = { path: z.string() };
  return defineSink({
    name: "test-file",
    options: flaws.laxOptions ? z.object(shape) : z.strictObject(shape),
    async open({ options, resolvePath, checkpoint }) {
      const path = resolvePath(options.path);
      if (!existsSync(path)) writeFileSync(path, "");
      if (!flaws.noTruncate) truncateSync(path, (checkpoint as number | undefined) ?? 0);
      return {
        async write(rows) {
          // unbuffered: uncommitted rows reach the file at once, as after a crash mid-shard
          appendFileSync(path, rows.map((row) => `${JSON.stringify(row)}\n`).join(""));
        },
        async commit() {
          const size = readFileSync(path).length;
          return (flaws.checkpoint ? flaws.checkpoint(size) : size) as number;
        },
        async close() {},
      };
    },
  });
}

/**
 * A sink that cannot roll back (as an HTTP API or a queue): rows are buffered until commit, which
 * upserts them by id with the delivery's key in one write (the output is the last row of each id);
 * `committed(key)` answers from the keys written. docs/writing-plugins.md: the engine then skips a
 * delivery the sink already has.
 */
function keyedSink(): SinkPlugin {
  return defineSink({
    name: "test-keyed",
    options: z.strictObject({ path: z.string() }),
    async open({ options, resolvePath }) {
      const path = resolvePath(options.path);
      if (!existsSync(path)) writeFileSync(path, "");
      const lines = () => readFileSync(path, "utf8").split("\n").filter(Boolean);
      let pending: unknown[] = [];
      return {
        async write(rows) {
          pending.push(...rows);
        },
        async commit(key) {
          const text = pending.map((row) => `${JSON.stringify({ key, row })}\n`).join("");
          appendFileSync(path, text || `${JSON.stringify({ key })}\n`);
          pending = [];
          return lines().length;
        },
        async committed(key) {
          return lines().some((line) => JSON.parse(line).key === key);
        },
        async close() {},
      };
    },
  });
}

const keyedOptions = {
  makeOptions: () => ({ path: "out.jsonl" }),
  readBack: (options: { path: string }, dir: string) => {
    const rows = new Map<string, { id: string }>();
    for (const line of readFileSync(join(dir, options.path), "utf8").split("\n").filter(Boolean)) {
      const { row } = JSON.parse(line) as { row?: { id: string } };
      if (row) rows.set(row.id, row);
    }
    return [...rows.values()];
  },
};

/**
 * A minimal JSONL source; `ignoreCheckpoint` breaks resume, `ignoreSignal` breaks abort; `noCursor`
 * gives no cursor, as a source of standard input does (allowed: the engine reads it from the start)
 */
function fileSource(
  flaws: { ignoreCheckpoint?: boolean; ignoreSignal?: boolean; noCursor?: boolean } = {},
): SourcePlugin {
  return defineSource({
    name: "test-file",
    options: z.strictObject({ path: z.string() }),
    async *read({ options, resolvePath, checkpoint, signal }) {
      const lines = readFileSync(resolvePath(options.path), "utf8").split("\n").filter(Boolean);
      const start = flaws.ignoreCheckpoint ? 0 : ((checkpoint as number | undefined) ?? 0);
      for (let i = start; i < lines.length; i++) {
        if (!flaws.ignoreSignal) signal.throwIfAborted();
        const cursor = flaws.noCursor ? undefined : i + 1;
        yield { data: JSON.parse(lines[i]!), position: { file: "in", line: i + 1 }, cursor };
      }
    },
  });
}

const sinkOptions = {
  makeOptions: () => ({ path: "out.jsonl" }),
  readBack: (options: { path: string }, dir: string) =>
    readFileSync(join(dir, options.path), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line)),
  invalidOptions: [{ options: { path: 1 }, path: ["path"] }],
};

const sourceOptions = {
  writeFixture: (dir: string, records: readonly Record<string, unknown>[]) => {
    writeFileSync(join(dir, "in.jsonl"), records.map((r) => `${JSON.stringify(r)}\n`).join(""));
    return { path: "in.jsonl" };
  },
};

/** the message each failing check throws, by check name */
async function messages(checks: ConformanceCheck[]): Promise<Record<string, string>> {
  const failed: Record<string, string> = {};
  for (const check of checks) await check.run().catch((error: Error) => (failed[check.name] = error.message));
  return failed;
}

async function failures(checks: ConformanceCheck[]): Promise<string[]> {
  const failed: string[] = [];
  for (const check of checks) await check.run().catch(() => failed.push(check.name));
  return failed;
}

describe("testSink", () => {
  test("a correct sink passes every check", async () => {
    expect(await failures(testSink(fileSink(), sinkOptions))).toEqual([]);
  });

  // a sink on a database sets it up first: "valid options parse" passed, every other check failed
  // with a ZodError on the promise
  test("makeOptions may return a promise (a database to set up): a correct sink passes every check", async () => {
    const makeOptions = async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return { path: "out.jsonl" };
    };
    expect(await failures(testSink(fileSink(), { ...sinkOptions, makeOptions }))).toEqual([]);
  });

  test("a sink that does not restore its checkpoint fails the crash checks", async () => {
    expect(await failures(testSink(fileSink({ noTruncate: true }), sinkOptions))).toEqual([
      "sink:test-file: after a crash, reopening at the last checkpoint drops uncommitted rows",
      "sink:test-file: after a crash between a sink commit and its record, redelivery adds no duplicates",
      "sink:test-file: a fresh open over a previous output adds no duplicates",
    ]);
  });

  test("a sink with a non-strict schema fails the unknown-option check", async () => {
    expect(await failures(testSink(fileSink({ laxOptions: true }), sinkOptions))).toEqual([
      "sink:test-file: an unknown option is rejected at its key",
    ]);
  });

  test("a commit that returns no JSON checkpoint is told so, naming the sink", async () => {
    const none = await messages(testSink(fileSink({ checkpoint: () => undefined }), sinkOptions));
    expect(Object.values(none)[0]).toMatchInlineSnapshot(
      `"sink:test-file: commit() returned undefined, not a JSON checkpoint: the engine stores it as JSON and hands it back to open() as \`checkpoint\`, so return a JSON value (a number, string, array or plain object) that says what is durable, e.g. the file's size"`,
    );
    const map = await messages(
      testSink(fileSink({ checkpoint: (size) => new Map([["size", size]]) }), sinkOptions),
    );
    expect(Object.values(map)[0]).toMatchInlineSnapshot(
      `"sink:test-file: commit() returned Map(1) { 'size' => 2224 }, not a JSON checkpoint: the engine stores it as JSON and hands it back to open() as \`checkpoint\`, so return a JSON value (a number, string, array or plain object) that says what is durable, e.g. the file's size"`,
    );
    const big = await messages(testSink(fileSink({ checkpoint: (size) => BigInt(size) }), sinkOptions));
    expect(Object.values(big)[0]).toMatchInlineSnapshot(
      `"sink:test-file: commit() returned 2224n, not a JSON checkpoint: the engine stores it as JSON and hands it back to open() as \`checkpoint\`, so return a JSON value (a number, string, array or plain object) that says what is durable, e.g. the file's size"`,
    );
  });

  test("an invalid-options case at the wrong path fails", async () => {
    const checks = testSink(fileSink(), {
      ...sinkOptions,
      invalidOptions: [{ options: { path: 1 }, path: ["table"] }],
    });
    expect(await failures(checks)).toEqual(["sink:test-file: invalid option table is reported at its path"]);
  });
});

test("testSink: a sink that cannot roll back but answers committed(key) passes every check", async () => {
  expect(await messages(testSink(keyedSink(), keyedOptions))).toEqual({});
});

describe("testSource", () => {
  test("a correct source passes every check", async () => {
    expect(await failures(testSource(fileSource(), sourceOptions))).toEqual([]);
  });

  test("a source without cursors (it cannot resume, as docs/writing-plugins.md allows) passes every check", async () => {
    expect(await messages(testSource(fileSource({ noCursor: true }), sourceOptions))).toEqual({});
  });

  test("a source that ignores its checkpoint fails the resume check", async () => {
    expect(await failures(testSource(fileSource({ ignoreCheckpoint: true }), sourceOptions))).toEqual([
      "source:test-file: resuming from the (stamped) cursor of record k yields records k+1.. exactly once",
    ]);
  });

  test("a source that does not give the fixture's records back as they are is told what they hold", async () => {
    const lossy = {
      writeFixture: (dir: string, records: readonly Record<string, unknown>[]) =>
        sourceOptions.writeFixture(
          dir,
          records.map((r) => ({ id: r.id, text: r.text })),
        ),
    };
    const failed = await messages(testSource(fileSource(), lossy));
    expect(
      failed["source:test-file: reads every record once, in order, with positions and JSON cursors"]?.split(
        "\n",
      )[0],
    ).toMatchInlineSnapshot(
      `"source:test-file: the records read are not the ones writeFixture was given, in order (200 read of 200; record 1 was given as { id: 'r00000', text: 'quote " backslash \\\\ newline \\n ünïcødé 🚀 0', n: 0, nested: { list: [ 0, null, true ], empty: {} } }, read as { id: 'r00000', text: 'quote " backslash \\\\ newline \\n ünïcødé 🚀 0' }). Each is { id, text, n, nested }: text a string (some with a quote, a backslash, a newline and non-ASCII), n an integer, nested an object with a list; write every field in the source's format so that read() gives each record back as its data, deep-equal (a CSV source declares n and nested as typed columns)"`,
    );
  });

  test("a source that ignores the signal fails the abort check", async () => {
    expect(await failures(testSource(fileSource({ ignoreSignal: true }), sourceOptions))).toEqual([
      "source:test-file: aborting the signal stops reading",
    ]);
  });
});
