// A sink that keeps rows across runs (upsert by id) is told which of its rows a delivery makes
// stale (SinkHandle.forget): a result sink the records whose request failed at the provider, an
// errors sink those that succeeded, so a rerun leaves no stale success nor fixed failure in it.
import { expect, it } from "vitest";
import { officialPlugins, tempDir } from "../../batchpipe/test/support/harness.js";
import { runSpec } from "../src/index.js";
import { defineSink, z } from "../src/plugin.js";
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
