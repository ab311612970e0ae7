// sink-postgres writing into a table someone altered between runs: a column's type changed to one
// the rows' values do not fit (output from jsonb to integer). The run fails at delivery with
// PLUGIN_FAILED naming the column (PostgreSQL's error names only the type and the value) and what
// to do; once the column is fixed, a run again delivers every id once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  checkExactlyOnce,
  type EmulatorProcess,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writePipeline,
} from "../../batchpipe/test/support/harness.js";
import { sharedPostgres, URL_REF } from "./support/postgres-server.mjs";

const N = 20;

let server: Awaited<ReturnType<typeof sharedPostgres>>;
let emulator: EmulatorProcess;
beforeAll(async () => {
  [server, emulator] = await Promise.all([sharedPostgres(), startEmulatorProcess()]);
});
afterAll(async () => {
  await emulator?.close();
});

describe("sink-postgres: a column's type changed between runs", () => {
  it("fails naming the column the value did not fit; fixed, a run again delivers every id once", async () => {
    const url = await server.createDatabase("altered");
    const sql = (text: string) => server.query(text, [], "altered");
    const dir = tempDir("bp-pg-type-");
    writeDataset(dir, N);
    const spec = writePipeline(dir, {
      baseUrl: emulator.url,
      name: "pg-type",
      sinks: [`- { use: postgres, ${URL_REF}, table: results }`],
    });
    const env = { DATABASE_URL: url };
    // an earlier run's table, its output column since changed to integer
    await sql(`CREATE TABLE results (id text PRIMARY KEY, status text NOT NULL, output jsonb,
      attempts integer, created_at timestamptz NOT NULL DEFAULT now())`);
    await sql("ALTER TABLE results ALTER COLUMN output TYPE integer USING NULL");

    const first = await batchpipe(["run", spec, "--json"], { cwd: dir, env });
    expect(first.code, first.stderr).toBe(1);
    const error = first.events.find((e) => e.type === "error")!;
    expect(error.code).toBe("PLUGIN_FAILED");
    expect(
      String(error.message)
        .replace(/:\d+\//, ":PORT/")
        .replace(/"Say: [^"]*"/, '"Say: …"'),
    ).toMatchInlineSnapshot(
      `"postgres://postgres@127.0.0.1:PORT/altered "public"."results": write failed: invalid input syntax for type integer: "Say: …" (22P02) (the table's integer columns: output, attempts)"`,
    );
    expect(error.hint).toMatchInlineSnapshot(
      `"A row's value does not fit its column's type: change the column's type (e.g. to jsonb or text) or leave it out of the sink's columns, then run again: the run resumes from its last commit."`,
    );

    await sql("ALTER TABLE results ALTER COLUMN output TYPE text");
    const again = await batchpipe(["run", spec, "--json"], { cwd: dir, env });
    expect(again.code, again.stderr).toBe(0);
    const ids = (await sql("SELECT id FROM results")).map((r: { id: string }) => r.id);
    const expected = Array.from({ length: N }, (_, i) => `rec-${i + 1}`);
    expect(checkExactlyOnce(ids, expected)).toEqual({ missing: [], duplicated: [], extra: [] });
  }, 120_000);
});
