import assert from "node:assert/strict";
import { inspect } from "node:util";
import type { Checkpoint, FailureRow, ResultRow, SinkHandle, SinkPlugin, SuccessRow, z } from "../plugin.js";
import { checkpointProblem } from "../plugins/contract.js";
import { optionChecks } from "./check-options.js";
import {
  type ConformanceCheck,
  createTestContext,
  type InvalidOptionsCase,
  withTempDir,
} from "./conformance.js";

/** A row as a sink's output holds it; `output` and `error` are compared with what was written when present. */
export interface ReadBackRow {
  id: string;
  status?: string;
  output?: unknown;
  error?: unknown;
}

export interface TestSinkOptions<O = unknown> {
  /** raw (unparsed) options for a sink whose output lives under `dir`, or a promise of them (a database to set up) */
  makeOptions(dir: string): unknown;
  /** every row in the sink's output, in any order; `options` are the sink's parsed options (its schema's output) */
  readBack(options: O, dir: string): Promise<readonly ReadBackRow[]> | readonly ReadBackRow[];
  /** bad options and the path the schema must report for each */
  invalidOptions?: readonly InvalidOptionsCase[];
}

/**
 * The sink conformance suite: what every sink must do for the engine's exactly-once delivery
 * (DESIGN §3). Returns checks to register with a test runner; core itself does not depend on one.
 */
export function testSink<S extends z.ZodType>(
  plugin: SinkPlugin<S>,
  options: TestSinkOptions<z.output<S>>,
): ConformanceCheck[] {
  type O = z.output<S>;
  const label = `sink:${plugin.name}`;
  const check = (name: string, run: (sink: SinkFixture<O>) => Promise<void>): ConformanceCheck => ({
    name: `${label}: ${name}`,
    run: () =>
      withTempDir(async (dir) => run(new SinkFixture(plugin, options, dir, await options.makeOptions(dir)))),
  });

  return [
    ...optionChecks(label, plugin.options, (dir) => options.makeOptions(dir), options.invalidOptions),

    check("writes every row once and reads it back intact", async (sink) => {
      const rows = makeRows("a", 40);
      const handle = await sink.open(undefined);
      await handle.write(rows.slice(0, 25));
      await handle.write(rows.slice(25));
      await handle.commit("k1");
      await handle.close();
      await sink.expectRows(rows);
    }),

    check("close without write leaves a valid empty output", async (sink) => {
      const handle = await sink.open(undefined);
      await handle.close();
      await sink.expectRows([]);
    }),

    check("an empty commit returns a checkpoint that keeps earlier rows", async (sink) => {
      const rows = makeRows("a", 5);
      const first = await sink.open(undefined);
      await first.write(rows);
      await first.commit("k1");
      const checkpoint = roundTrip(label, await first.commit("k2"));
      await first.close();
      const second = await sink.open(checkpoint);
      await second.close();
      await sink.expectRows(rows);
    }),

    check("after a crash, reopening at the last checkpoint drops uncommitted rows", async (sink) => {
      const { a, b, c, x } = crashRows();
      const crashed = await sink.open(undefined);
      try {
        await crashed.write(a);
        await crashed.commit("k-a");
        await crashed.write(b);
        const checkpoint = roundTrip(label, await crashed.commit("k-b"));
        await crashed.write(x); // never committed: the process "dies" here
        const resumed = await sink.open(checkpoint);
        if (resumed.committed) assert.equal(await resumed.committed("k-b"), true, "committed(k-b)");
        await resumed.write(c);
        await resumed.commit("k-c");
        await resumed.close();
        await sink.expectRows([...a, ...b, ...c]);
      } finally {
        await crashed.close().catch(() => {});
      }
    }),

    check(
      "after a crash between a sink commit and its record, redelivery adds no duplicates",
      async (sink) => {
        const { a, b, c, x } = crashRows();
        const crashed = await sink.open(undefined);
        try {
          await crashed.write(a);
          const checkpoint = roundTrip(label, await crashed.commit("k-a"));
          await crashed.write(b);
          await crashed.commit("k-b"); // committed, but the engine never recorded this checkpoint
          await crashed.write(x); // never committed
          const resumed = await sink.open(checkpoint);
          if (resumed.committed)
            assert.equal(await resumed.committed("k-a"), true, "committed(k-a) before the checkpoint");
          // as the engine does: a delivery the sink says it has (one that cannot roll back keeps
          // k-b) is not handed to it again; one it rolled back to the checkpoint is
          if (!(await resumed.committed?.("k-b"))) {
            await resumed.write(b);
            await resumed.commit("k-b");
          }
          await resumed.write(c);
          await resumed.commit("k-c");
          if (resumed.committed)
            assert.equal(await resumed.committed("k-b"), true, "committed(k-b) after redelivery");
          await resumed.close();
          await sink.expectRows([...a, ...b, ...c]);
        } finally {
          await crashed.close().catch(() => {});
        }
      },
    ),

    check("a fresh open over a previous output adds no duplicates", async (sink) => {
      const rows = makeRows("a", 10);
      for (let run = 0; run < 2; run++) {
        const handle = await sink.open(undefined);
        await handle.write(rows);
        await handle.commit("k1");
        await handle.close();
      }
      await sink.expectRows(rows);
    }),
  ];
}

// --- internal ---

class SinkFixture<O> {
  readonly parsed: O;
  constructor(
    readonly plugin: SinkPlugin,
    readonly options: TestSinkOptions<O>,
    readonly dir: string,
    rawOptions: unknown,
  ) {
    this.parsed = plugin.options.parse(rawOptions) as O;
  }

  open(checkpoint: Checkpoint | undefined): Promise<SinkHandle> {
    return this.plugin.open({ ...createTestContext(this.dir, this.parsed), checkpoint });
  }

  async expectRows(expected: readonly ResultRow[]): Promise<void> {
    const actual = await this.options.readBack(this.parsed, this.dir);
    const ids = actual.map((row) => row.id).sort();
    assert.deepEqual(ids, expected.map((row) => row.id).sort(), "the ids in the output (each exactly once)");
    const byId = new Map(expected.map((row) => [row.id, row]));
    for (const row of actual) {
      const written = byId.get(row.id)!;
      if (row.status !== undefined) assert.equal(row.status, written.status, `status of ${row.id}`);
      if ("output" in row && written.status === "success") {
        assert.deepEqual(row.output, written.output, `output of ${row.id}`);
      }
      if ("error" in row && written.status === "failed")
        assert.deepEqual(row.error, written.error, `error of ${row.id}`);
    }
  }
}

/** a, b, c: delivered and committed; x: written, never committed (one row over 1 MB) */
function crashRows() {
  return {
    a: makeRows("a", 10),
    b: makeRows("b", 10),
    c: makeRows("c", 10),
    x: makeRows("x", 10, { large: true }),
  };
}

/** Success and failure rows with awkward content: quotes, newlines, unicode, nesting. */
function makeRows(prefix: string, count: number, { large = false } = {}): ResultRow[] {
  return Array.from({ length: count }, (_, i) => {
    const id = `${prefix}-${String(i).padStart(4, "0")}`;
    const source = { file: "/data/in.jsonl", line: i + 1 };
    const input = { id, text: `say "hi"\n\tto ${id} — ünïcødé 🚀` };
    if (i % 5 === 4) {
      const failure: FailureRow = {
        id,
        status: "failed",
        error: { code: "context_length_exceeded", message: `too long: ${id}`, status_code: 400 },
        attempts: 1,
        batch_id: "batch_1",
        input,
        source,
      };
      return failure;
    }
    // one row over 1 MB, so that a buffering sink really writes uncommitted bytes before the "crash"
    const text = large && i === 0 ? "x".repeat(1_200_000) : `positive: "${id}"\nline two — ✓`;
    const success: SuccessRow = {
      id,
      status: "success",
      output:
        i % 2 === 0
          ? text
          : { label: "positive", score: i / 10, tags: ["a", "b"], nested: { deep: [1, { x: null }] } },
      response: { id: `resp-${id}`, choices: [{ index: 0, message: { role: "assistant", content: text } }] },
      usage: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
      model: "gpt-4o-mini",
      batch_id: "batch_1",
      attempts: 1,
      input,
      source,
    };
    return success;
  });
}

/** the engine stores checkpoints as JSON: what commit() returned, as open() gets it back (its check) */
function roundTrip(label: string, checkpoint: Checkpoint): Checkpoint {
  if (checkpointProblem(checkpoint) !== undefined) {
    const shown = inspect(checkpoint, { depth: 2, breakLength: Number.POSITIVE_INFINITY });
    assert.fail(
      `${label}: commit() returned ${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown}, not a JSON checkpoint: ` +
        "the engine stores it as JSON and hands it back to open() as `checkpoint`, so return a JSON value " +
        "(a number, string, array or plain object) that says what is durable, e.g. the file's size",
    );
  }
  return JSON.parse(JSON.stringify(checkpoint)) as Checkpoint;
}
