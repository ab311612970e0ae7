// A result sink that keeps rows across runs (upsert by id) is told which records of a delivery
// failed at the provider (SinkHandle.forget), so a rerun leaves no stale success in it.
import { expect, it } from "vitest";
import { officialPlugins, tempDir } from "../../batchpipe/test/support/harness.js";
import { runSpec } from "../src/index.js";
import { defineSink, z } from "../src/plugin.js";
import { numbersSpec } from "./fixtures/numbers-spec.js";

/** a sink that records what it is told, by role */
function recordingSink(into: { written: string[]; forgotten: string[] }, forgets: boolean) {
  return defineSink({
    name: forgets ? "keeps-rows" : "plain",
    options: z.strictObject({}),
    async open() {
      return {
        async write(rows) {
          into.written.push(...rows.map((r) => r.id));
        },
        ...(forgets
          ? {
              async forget(ids: readonly string[]) {
                into.forgotten.push(...ids);
              },
            }
          : {}),
        commit: async () => 0,
        close: async () => {},
      };
    },
  });
}

it("result sinks forget the ids whose request failed at the provider, not those that failed before sending; errors sinks are not told", async () => {
  const results = { written: [] as string[], forgotten: [] as string[] };
  const errors = { written: [] as string[], forgotten: [] as string[] };
  const plain = { written: [] as string[], forgotten: [] as string[] };
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
  expect(errors.written.sort()).toEqual(["n1", "n2", "n5"]);
  expect(errors.forgotten).toEqual([]);
  expect(plain.forgotten).toEqual([]);
});
