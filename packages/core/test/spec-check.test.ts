// checkPipeline's comparison of the non-file targets plugins declare in `check` (a database table):
// two writers of one target, or of one part of it, are refused at the second entry's option.
import { describe, expect, test } from "vitest";
import { officialPlugins as builtins, tempDir } from "../../batchpipe/test/support/harness.js";
import { type BatchpipeError, checkPipeline, resolvePipeline, type SpecIssueError } from "../src/index.js";
import { defineSink, defineSource, z } from "../src/plugin.js";

const memorySource = defineSource({
  name: "memory",
  options: z.strictObject({}),
  async *read() {},
});

/** a sink that writes `table` (when given) of the server `server` */
const tableSink = defineSink({
  name: "tables",
  options: z.strictObject({ server: z.string(), table: z.string().optional() }),
  check: ({ options }) => ({
    targets: [{ target: options.server, option: "server", part: options.table }],
  }),
  async open() {
    return {
      async write() {},
      async commit() {
        return null;
      },
      async close() {},
    };
  },
});

async function problems(sinks: Record<string, unknown>[], errors: Record<string, unknown>[] = []) {
  const pipeline = await resolvePipeline(
    {
      version: 1,
      name: "targets",
      source: { use: memorySource },
      transform: { body: { model: "m", messages: [] } },
      sinks: sinks.map((options) => ({ use: tableSink, ...options })),
      errors: errors.map((options) => ({ use: tableSink, ...options })),
    },
    { dir: tempDir(), env: { OPENAI_API_KEY: "sk-test" }, builtins },
  );
  try {
    checkPipeline(pipeline, { env: { OPENAI_API_KEY: "sk-test" } });
    return [];
  } catch (error) {
    expect((error as BatchpipeError).code).toBe("SPEC_INVALID");
    return ((error as BatchpipeError).details as SpecIssueError[]).map(
      (detail) => `${detail.path}: ${detail.message} (${detail.hint})`,
    );
  }
}

describe("checkPipeline: targets", () => {
  test("two entries on one part of a target, or one on the whole of it, clash; other parts and targets do not", async () => {
    expect(
      await problems(
        [
          { server: "db://a/app", table: "public.results" },
          { server: "db://a/app", table: "public.other" },
          { server: "db://b/app", table: "public.results" },
          { server: "db://a/app", table: "public.results" },
          { server: "db://c/app" },
          { server: "db://c/app", table: "public.results" },
        ],
        [{ server: "db://a/app", table: "public.results" }],
      ),
    ).toMatchInlineSnapshot(`
      [
        "sinks[3].server: sinks[0] (tables) already writes "public.results" in db://a/app (give each sink (and each errors entry) its own table: two writers on one table overwrite each other's rows)",
        "sinks[5].server: sinks[4] (tables) already writes db://c/app (give each sink (and each errors entry) its own target: two writers on one target overwrite each other)",
        "errors[0].server: sinks[0] (tables) already writes "public.results" in db://a/app (give each sink (and each errors entry) its own table: two writers on one table overwrite each other's rows)",
      ]
    `);
    expect(
      await problems([{ server: "db://a/app", table: "x" }], [{ server: "db://a/app", table: "y" }]),
    ).toEqual([]);
  });
});
