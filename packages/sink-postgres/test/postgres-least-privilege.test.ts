// sink-postgres as a least-privileged role, through the real CLI: a table (and the commit records)
// a DBA made and granted to the role, which may not create tables in the schema (PostgreSQL 15's
// default on public). The sink writes them; and a role that could not write the rows is refused
// when the sink opens, before any batch is submitted (and paid).
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

const APP_PASSWORD = "app-pw-Lp4";
const N = 30;

let server: Awaited<ReturnType<typeof sharedPostgres>>;
let emulator: EmulatorProcess;
beforeAll(async () => {
  [server, emulator] = await Promise.all([sharedPostgres(), startEmulatorProcess()]);
  await server.query(`CREATE ROLE app LOGIN PASSWORD '${APP_PASSWORD}'`);
});
afterAll(async () => {
  await emulator?.close();
});

/** a database whose tables the superuser created: app may use public, not create in it */
async function databaseFor(name: string, grants: string[]): Promise<string> {
  await server.createDatabase(name);
  const sql = (text: string) => server.query(text, [], name);
  await sql("REVOKE CREATE ON SCHEMA public FROM PUBLIC");
  await sql("CREATE TABLE results (id text PRIMARY KEY, status text NOT NULL, output jsonb, usage jsonb)");
  await sql(`CREATE TABLE _batchpipe_commits (
      seq bigserial PRIMARY KEY, table_name text NOT NULL, key text NOT NULL,
      committed_at timestamptz NOT NULL DEFAULT now(), UNIQUE (table_name, key))`);
  await sql("GRANT SELECT, INSERT, UPDATE, DELETE ON _batchpipe_commits TO app");
  await sql("GRANT USAGE ON SEQUENCE _batchpipe_commits_seq_seq TO app");
  for (const grant of grants) await sql(`${grant} TO app`);
  return `postgres://app:${APP_PASSWORD}@127.0.0.1:${server.port}/${name}`;
}

async function run(name: string, url: string) {
  const dir = tempDir(`bp-pg-${name}-`);
  writeDataset(dir, N);
  const spec = writePipeline(dir, {
    baseUrl: emulator.url,
    name,
    sinks: [`- { use: postgres, ${URL_REF}, table: results }`],
  });
  return batchpipe(["run", spec, "--json"], { cwd: dir, env: { DATABASE_URL: url } });
}

/** the batches the emulator was given for the pipeline `name` */
async function batchesOf(name: string) {
  return (await emulator.state()).batches.filter((b) => b.metadata?.batchpipe_name === name);
}

describe("sink-postgres: a role that may write the table, not create tables", () => {
  it("writes into the table and commit records made for it", async () => {
    const url = await databaseFor("granted", ["GRANT SELECT, INSERT, UPDATE, DELETE ON results"]);
    const result = await run("granted", url);
    expect(result.code, result.stderr).toBe(0);
    const ids = await server.query("SELECT id FROM results", [], "granted");
    const expected = Array.from({ length: N }, (_, i) => `rec-${i + 1}`);
    expect(
      checkExactlyOnce(
        ids.map((r: { id: string }) => r.id),
        expected,
      ),
    ).toEqual({
      missing: [],
      duplicated: [],
      extra: [],
    });
  }, 120_000);

  it("refuses at open a role that could not write the rows, before any batch is submitted", async () => {
    const cases: [name: string, grants: string[], rows: number][] = [
      ["read_only", ["GRANT SELECT ON results"], 0],
      // a column grant: app may update status, not output or usage
      ["some_columns", ["GRANT SELECT, INSERT ON results", "GRANT UPDATE (status) ON results"], 0],
      // rows of an earlier run: forget() may have to delete one (a success that now failed)
      ["no_delete", ["GRANT SELECT, INSERT, UPDATE ON results"], 1],
    ];
    const messages: string[] = [];
    for (const [name, grants, rows] of cases) {
      const url = await databaseFor(name, grants);
      if (rows > 0)
        await server.query("INSERT INTO results (id, status) VALUES ('old', 'success')", [], name);
      const result = await run(name, url);
      expect(result.code, result.stderr).toBe(1);
      const error = result.events.find((e) => e.type === "error")!;
      expect(error.code).toBe("PLUGIN_FAILED");
      messages.push(`${error.message}\n  hint: ${error.hint}`);
      // known before a request was paid for
      expect(await batchesOf(name)).toEqual([]);
    }
    expect(messages).toMatchInlineSnapshot(`
      [
        ""public"."results": the role app may not write the sink's rows: it lacks INSERT (id, status, output, usage), UPDATE (status, output, usage)
        hint: GRANT INSERT, UPDATE ON "public"."results" TO app, or name a table it may write.",
        ""public"."results": the role app may not write the sink's rows: it lacks UPDATE (output, usage)
        hint: GRANT UPDATE ON "public"."results" TO app, or name a table it may write.",
        ""public"."results": the role app may not write the sink's rows: it lacks DELETE (it holds rows of earlier runs: a row a later answer of its id makes stale is deleted)
        hint: GRANT DELETE ON "public"."results" TO app, or name a table it may write.",
      ]
    `);
  }, 120_000);
});
