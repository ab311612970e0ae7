// A sink that keeps rows across runs (upsert by id) is told which of its rows a delivery makes
// stale (SinkHandle.forget): a result sink the records whose request failed at the provider, an
// errors sink those that succeeded, so a rerun leaves no stale success nor fixed failure in it. A
// result sink is also told the records that failed before they were sent (a template that now fails
// for them) and took their id, which no duplicate_id did.
import { expect, it } from "vitest";
import { officialPlugins, tempDir } from "../../batchpipe/test/support/harness.js";
import { runSpec } from "../src/index.js";
import { defineSink, defineSource, z } from "../src/plugin.js";
import { numbersSpec } from "./fixtures/numbers-spec.js";

interface Told {
  written: string[];
  forgotten: string[];
  /** the rows it holds, as a table upserted by id would */
  held: Set<string>;
}
const told = (): Told => ({ written: [], forgotten: [], held: new Set() });

/** a sink that records what it is told, by role */
function recordingSink(into: Told, forgets: boolean) {
  return defineSink({
    name: forgets ? "keeps-rows" : "plain",
    options: z.strictObject({}),
    async open() {
      return {
        async write(rows) {
          into.written.push(...rows.map((r) => r.id));
          for (const row of rows) into.held.add(row.id);
        },
        ...(forgets
          ? {
              async forget(ids: readonly string[]) {
                into.forgotten.push(...ids);
                for (const id of ids) into.held.delete(id);
              },
            }
          : {}),
        commit: async () => 0,
        close: async () => {},
      };
    },
  });
}

it("result sinks forget the ids whose request failed at the provider, errors sinks those that succeeded, neither a duplicate's", async () => {
  const results = told();
  const errors = told();
  const plain = told();
  const result = await runSpec(
    numbersSpec({
      name: "forget",
      count: 6,
      maxRequests: 3,
      // n1 again at the end: a duplicate_id, which fails before it is sent while n1 itself succeeds
      repeatFirst: true,
      emulator: { lineRules: [{ customIds: ["n2", "n5"], error: "context_length_exceeded" }] },
      sinks: [{ use: recordingSink(results, true) }, { use: recordingSink(plain, false) }],
      errors: [{ use: recordingSink(errors, true) }],
    }),
    { dir: tempDir(), builtins: officialPlugins },
  );
  expect(result.report).toMatchObject({ succeeded: 4, failed: 3 });
  expect(results.written.sort()).toEqual(["n1", "n3", "n4", "n6"]);
  // n1's duplicate failed before it was sent: n1's success row must stay
  expect(results.forgotten.sort()).toEqual(["n2", "n5"]);
  expect(results.held).toEqual(new Set(["n1", "n3", "n4", "n6"]));
  expect(errors.written.sort()).toEqual(["n1", "n2", "n5"]);
  // the successes' failure rows of earlier runs are stale; n1's duplicate_id row of this run is not
  // (n1 may be forgotten only before that row is written, when its collection comes first)
  expect(errors.forgotten.filter((id) => id !== "n1").sort()).toEqual(["n3", "n4", "n6"]);
  expect(errors.held).toEqual(new Set(["n1", "n2", "n5"]));
  expect(plain.forgotten).toEqual([]);
});

it("result sinks forget the ids that failed before they were sent; such a record's id is taken, so no later record of the run succeeds under it", async () => {
  const results = told();
  const errors = told();
  let delivered: () => void = () => {};
  const firstDelivery = new Promise<void>((resolve) => {
    delivered = resolve;
  });
  const sink = recordingSink(results, true);
  const results_ = defineSink({
    ...sink,
    async open(ctx) {
      const handle = await sink.open(ctx);
      return {
        ...handle,
        async write(rows) {
          await handle.write(rows);
          delivered();
        },
      };
    },
  });
  let collectedWhileReading = false;
  const position = (line: number) => ({ file: "records", line });
  const source = defineSource({
    name: "records",
    options: z.strictObject({}),
    async *read() {
      // a's template fails: it takes id a (an earlier run's row of a is stale), so the next record
      // of id a is a duplicate_id, not sent
      yield { data: { id: "a" }, position: position(1), cursor: 1 };
      yield { data: { id: "a", text: "a" }, position: position(2), cursor: 2 };
      yield { data: { id: "b", text: "b" }, position: position(3), cursor: 3 };
      yield { data: { id: "c", text: "c" }, position: position(4), cursor: 4 };
      yield { data: { id: "e", text: "e" }, position: position(5), cursor: 5 };
      // f seals the shard of b, c and e, which is delivered while the read goes on (before the
      // read's failures are)
      yield { data: { id: "f", text: "f" }, position: position(6), cursor: 6 };
      collectedWhileReading = await Promise.race([
        firstDelivery.then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 20_000)),
      ]);
      // b was sent and succeeded, then a record of id b fails its template: a duplicate_id, and b's
      // success stays
      yield { data: { id: "b" }, position: position(7), cursor: 7 };
      // d failed before it was sent, and nothing of id d was sent: an earlier run's row of d is stale
      yield { data: { id: "d" }, position: position(8), cursor: 8 };
    },
  });
  const spec = numbersSpec({
    name: "forget-unsent",
    count: 0,
    maxRequests: 3,
    sinks: [{ use: results_ }],
    errors: [{ use: recordingSink(errors, true) }],
  });
  const result = await runSpec(
    { ...spec, source: { use: source } },
    // a checkpoint after each record: the shard of b, c and e is submitted while the read waits
    { dir: tempDir(), builtins: officialPlugins, readCheckpointEvery: 1 },
  );
  expect(collectedWhileReading).toBe(true);
  expect(result.report).toMatchObject({ succeeded: 4, failed: 4 });
  expect(result.report.failedByCode).toEqual({ template_error: 2, duplicate_id: 2 });
  expect(results.forgotten).toEqual(["a", "d"]);
  expect(results.held).toEqual(new Set(["b", "c", "e", "f"]));
}, 60_000);
