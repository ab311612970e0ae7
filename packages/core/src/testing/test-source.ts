import assert from "node:assert/strict";
import { inspect, isDeepStrictEqual } from "node:util";
import type { Checkpoint, SourceItem, SourcePlugin, SourceRecord } from "../plugin.js";
import { optionChecks } from "./check-options.js";
import {
  type ConformanceCheck,
  createTestContext,
  type InvalidOptionsCase,
  withTempDir,
} from "./conformance.js";

export interface TestSourceOptions {
  /**
   * write `records` in the source's format under `dir` (in this order) and return raw options that
   * read them. Each record is `{ id: "r00000", text, n, nested }`: `text` a string (some with a
   * quote, a backslash, a newline and non-ASCII), `n` an integer, `nested` an object holding a list
   * and an empty object; the source must give each back as its `data`, deep-equal.
   */
  writeFixture(dir: string, records: readonly Record<string, unknown>[]): Promise<unknown> | unknown;
  /** bad options and the path the schema must report for each */
  invalidOptions?: readonly InvalidOptionsCase[];
  /** how many records the main fixture holds (default 200) */
  recordCount?: number;
}

/**
 * The source conformance suite: complete, ordered reads; resume from any record's cursor (a source
 * whose cursors are undefined cannot resume, and is not asked to); empty input; abort. Returns
 * checks to register with a test runner.
 */
export function testSource(plugin: SourcePlugin, options: TestSourceOptions): ConformanceCheck[] {
  const label = `source:${plugin.name}`;
  const records = makeRecords(options.recordCount ?? 200);
  const check = (name: string, run: (dir: string) => Promise<void>): ConformanceCheck => ({
    name: `${label}: ${name}`,
    run: () => withTempDir(run),
  });
  const read = async (dir: string, fixture: readonly Record<string, unknown>[], checkpoint?: Checkpoint) => {
    const parsed = plugin.options.parse(await options.writeFixture(dir, fixture));
    return collect(plugin.read({ ...createTestContext(dir, parsed), checkpoint }));
  };

  return [
    ...optionChecks(
      label,
      plugin.options,
      (dir) => options.writeFixture(dir, records),
      options.invalidOptions,
    ),

    check("reads every record once, in order, with positions and JSON cursors", async (dir) => {
      const items = await read(dir, records);
      const data = items.map((item) => item.data);
      const first = records.findIndex((record, i) => !isDeepStrictEqual(data[i], record));
      if (first !== -1 || data.length !== records.length) {
        const at = first === -1 ? records.length : first;
        assert.fail(
          `${label}: the records read are not the ones writeFixture was given, in order ` +
            `(${data.length} read of ${records.length}; record ${at + 1} was given as ${show(records[at])}, read as ${show(data[at])}). ` +
            "Each is { id, text, n, nested }: text a string (some with a quote, a backslash, a newline and non-ASCII), " +
            "n an integer, nested an object with a list; write every field in the source's format so that " +
            "read() gives each record back as its data, deep-equal (a CSV source declares n and nested as typed columns)",
        );
      }
      for (const item of items) {
        assert.equal(typeof item.position.file, "string");
        assert.ok(Number.isInteger(item.position.line) && item.position.line >= 1, "1-based line");
        // undefined: a source that cannot resume (standard input); the engine reads it from the start
        if (item.cursor !== undefined)
          assert.deepEqual(roundTrip(item.cursor), item.cursor, "the cursor survives JSON");
      }
    }),

    check("resuming from the (stamped) cursor of record k yields records k+1.. exactly once", async (dir) => {
      const items = await read(dir, records);
      const n = items.length;
      for (const k of new Set([0, 1, Math.floor(n / 2), n - 2, n - 1])) {
        // a record without a cursor is no place to resume from (the engine reads such a source again)
        if (items[k]?.cursor === undefined) continue;
        // the cursor a checkpoint records: stamped by the source when it stamps them
        const cursor = plugin.stampCursor ? await plugin.stampCursor(items[k]!.cursor) : items[k]!.cursor;
        const rest = await collect(
          plugin.read({
            ...createTestContext(dir, plugin.options.parse(await options.writeFixture(dir, records))),
            checkpoint: roundTrip(cursor),
          }),
        );
        assert.deepEqual(
          rest.map((item) => item.data.id),
          records.slice(k + 1).map((record) => record.id),
          `resumed after record ${k}`,
        );
      }
    }),

    check("an empty input yields nothing", async (dir) => {
      assert.deepEqual(await read(dir, []), []);
    }),

    check("aborting the signal stops reading", async (dir) => {
      const parsed = plugin.options.parse(await options.writeFixture(dir, records));
      const controller = new AbortController();
      const seen: SourceItem[] = [];
      let stoppedBy: unknown;
      try {
        for await (const item of plugin.read({
          ...createTestContext(dir, parsed, controller.signal),
          checkpoint: undefined,
        })) {
          seen.push(item);
          if (seen.length === 3) controller.abort();
        }
      } catch (error) {
        stoppedBy = error;
      }
      assert.equal(seen.length, 3, "no record after the abort");
      if (stoppedBy !== undefined) {
        assert.ok(
          stoppedBy === controller.signal.reason || (stoppedBy as Error).name === "AbortError",
          `stopped by an unexpected error: ${String(stoppedBy)}`,
        );
      }
    }),
  ];
}

/** Every item `plugin.read` yields in `dir` for `rawOptions` (parsed by its schema), resuming after `checkpoint`. */
export async function readSource(
  plugin: SourcePlugin,
  dir: string,
  rawOptions: unknown,
  checkpoint?: Checkpoint,
): Promise<SourceItem[]> {
  const items: SourceItem[] = [];
  const context = createTestContext(dir, plugin.options.parse(rawOptions));
  for await (const item of plugin.read({ ...context, checkpoint })) items.push(item);
  return items;
}

// --- internal ---

async function collect(items: AsyncIterable<SourceItem>): Promise<SourceRecord[]> {
  const records: SourceRecord[] = [];
  for await (const item of items) {
    assert.ok(
      !("invalid" in item),
      `unexpected invalid record: ${"invalid" in item ? item.invalid.message : ""}`,
    );
    records.push(item);
  }
  return records;
}

function makeRecords(count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `r${String(i).padStart(5, "0")}`,
    text: i % 7 === 0 ? `quote " backslash \\ newline \n ünïcødé 🚀 ${i}` : `record ${i}`,
    n: i,
    nested: { list: [i, null, true], empty: {} },
  }));
}

function show(value: unknown): string {
  return inspect(value, { depth: 3, breakLength: Number.POSITIVE_INFINITY });
}

function roundTrip(checkpoint: Checkpoint): Checkpoint {
  return JSON.parse(JSON.stringify(checkpoint)) as Checkpoint;
}
