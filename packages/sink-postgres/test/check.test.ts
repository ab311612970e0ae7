// The sink's `check` declares the table it writes (a target: the database without credentials and
// schema.table), so `validate` and `run` refuse two entries on one table before anything connects:
// a sink and an errors entry there overwrite each other's rows by id, and two sinks wait on each
// other's uncommitted upserts until plugin_timeout.
import { createTestContext } from "@batchpipe/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { cli, tempDir, writeDataset, writePipeline } from "../../batchpipe/test/support/harness.js";
import sink from "../src/index.js";
import { POSTGRES_PASSWORD, sharedPostgres } from "./support/postgres-server.mjs";

// ${VAR} references in YAML, not JS templates
const ref = (name: string) => ["$", `{${name}}`].join("");

let server: Awaited<ReturnType<typeof sharedPostgres>>;
beforeAll(async () => {
  server = await sharedPostgres();
});

function targets(options: Record<string, unknown>, env: Record<string, string | undefined> = { USER: "me" }) {
  return sink.check!({ options: sink.options.parse(options), resolvePath: (p) => p, env }).targets;
}

describe("sink-postgres check: the table it writes", () => {
  it("refuses its own bookkeeping table as the table to write", () => {
    const check = (table: string) =>
      sink.check!({
        options: sink.options.parse({ url: "postgres:///app", table }),
        resolvePath: (p) => p,
        env: {},
      }).problems;
    expect(check("_batchpipe_commits")).toEqual([
      expect.objectContaining({
        option: "table",
        message: '"_batchpipe_commits" is the sink\'s own bookkeeping table',
      }),
    ]);
    expect(check("results")).toEqual([]);
  });

  it("names the database as pg connects to it, without credentials, and the table as PostgreSQL resolves it", async () => {
    const app = "postgres://db.example.com:5432/app";
    const cases: [Record<string, unknown>, string, string][] = [
      [{ url: "postgres://Alice:s3cret@DB.Example.COM/app" }, app, "public.results"],
      [{ url: "postgresql://alice@db.example.com:5432/app?sslmode=require" }, app, "public.results"],
      [{ url: "postgres://db.example.com/app?user=bob&password=s3cret" }, app, "public.results"],
      // the database defaults to the user's name; host and port to the environment's, then localhost:5432
      [{ url: "postgres://alice@db.example.com" }, "postgres://db.example.com:5432/alice", "public.results"],
      [{ url: "postgres:///app" }, "postgres://localhost:5432/app", "public.results"],
      [{ url: "postgres://u@/app?port=6000" }, "postgres://localhost:6000/app", "public.results"],
      [{ url: "postgres://" }, "postgres://localhost:5432/me", "public.results"],
      [{ url: "postgres://[0:0::1]:6543/app" }, "postgres://[::1]:6543/app", "public.results"],
      [
        { url: "postgres:///app?host=/var/run/postgresql" },
        "postgres://%2Fvar%2Frun%2Fpostgresql:5432/app",
        "public.results",
      ],
      // quoted by the sink: the case stays
      [{ url: app, schema: "Staging", table: "Labels" }, app, "Staging.Labels"],
    ];
    for (const [options, target, part] of cases)
      expect(targets(options), JSON.stringify(options)).toEqual([{ target, option: "url", part }]);
    expect(
      targets({ url: "postgres://" }, { PGHOST: "DB.example.com", PGPORT: "6432", PGUSER: "carol" }),
    ).toEqual([{ target: "postgres://db.example.com:6432/carol", option: "url", part: "public.results" }]);
    expect(targets({ url: "postgres://" }, { PGDATABASE: "app", PGUSER: "carol" })?.[0]?.target).toBe(
      "postgres://localhost:5432/app",
    );

    // names longer than 63 bytes: PostgreSQL keeps the first 63, so these are one table
    const long = "t".repeat(63);
    expect(targets({ url: app, table: `${long}_a` })).toEqual(targets({ url: app, table: `${long}_b` }));
    // what the names above assume, asked of the real server: two names the check calls different
    // are two tables, two it calls the same are one
    const db = await server.createDatabase(`names_${process.pid}`);
    const handle = await sink.open({
      ...createTestContext("/tmp", sink.options.parse({ url: db, table: `${long}_a` })),
      checkpoint: undefined,
    });
    await handle.close();
    const exists = async (name: string) =>
      (await server.query("SELECT to_regclass($1) AS t", [name], `names_${process.pid}`))[0].t !== null;
    expect(await exists(`"${long}_b"`)).toBe(true);
    await server.query('CREATE TABLE "Results" (id text)', [], `names_${process.pid}`);
    expect(await exists('"results"')).toBe(false);
  });

  it("validate and run refuse a sink and an errors entry, or two sinks, on one table; nothing is written", async () => {
    const database = `clash_${process.pid}`;
    const url = await server.createDatabase(database);
    const dir = tempDir("bp-sink-pg-check-");
    writeDataset(dir, 3);
    writePipeline(dir, {
      baseUrl: "http://127.0.0.1:9/v1",
      name: "pg-clash",
      sinks: [
        `- { use: postgres, url: "${ref("DATABASE_URL")}", table: results }`,
        // the same table through another spelling of the same database
        `- { use: postgres, url: "${ref("OTHER_URL")}", table: results, columns: [usage] }`,
        // other tables: Results is not results (quoted), and another schema
        `- { use: postgres, url: "${ref("DATABASE_URL")}", table: Results }`,
        `- { use: postgres, url: "${ref("DATABASE_URL")}", schema: other, table: results }`,
      ],
      errors: [`- { use: postgres, url: "${ref("DATABASE_URL")}", table: results }`],
    });
    const other = url
      .replace("postgres://", "postgresql://")
      .replace(`:${POSTGRES_PASSWORD}@`, ":another-pw@")
      .concat("?sslmode=disable");
    const env = { DATABASE_URL: url, OTHER_URL: other, OPENAI_API_KEY: "sk-test" };
    const show = (text: string) =>
      text.replaceAll(String(server.port), "<port>").replaceAll(database, "<db>");

    const validate = await cli(["validate", "pipeline.yaml"], { cwd: dir, env });
    expect(validate.code).toBe(2);
    expect(show(validate.stderr)).toMatchInlineSnapshot(`
      "pipeline.yaml:19:27 sinks[1].url: sinks[0] (postgres) already writes "public.results" in postgres://127.0.0.1:<port>/<db>
        17 | sinks:
        18 |   - { use: postgres, url: "\${DATABASE_URL}", table: results }
      > 19 |   - { use: postgres, url: "\${OTHER_URL}", table: results, columns: [usage] }
           |                           ^^^^^^^^^^^^^^
        20 |   - { use: postgres, url: "\${DATABASE_URL}", table: Results }
        21 |   - { use: postgres, url: "\${DATABASE_URL}", schema: other, table: results }
        hint: give each sink (and each errors entry) its own table: two writers on one table overwrite each other's rows

      pipeline.yaml:23:27 errors[0].url: sinks[0] (postgres) already writes "public.results" in postgres://127.0.0.1:<port>/<db>
        21 |   - { use: postgres, url: "\${DATABASE_URL}", schema: other, table: results }
        22 | errors:
      > 23 |   - { use: postgres, url: "\${DATABASE_URL}", table: results }
           |                           ^^^^^^^^^^^^^^^^^
        hint: give each sink (and each errors entry) its own table: two writers on one table overwrite each other's rows

      ✖ pipeline.yaml has 2 problems (SPEC_INVALID)
      "
    `);
    for (const secret of [POSTGRES_PASSWORD, "another-pw"]) expect(validate.stderr).not.toContain(secret);

    const run = await cli(["run", "pipeline.yaml"], { cwd: dir, env });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("has 2 problems (SPEC_INVALID)");
    // refused before the sinks opened: no table was created
    expect(await server.query("SELECT to_regclass('public.results') AS t", [], database)).toEqual([
      { t: null },
    ]);

    // each entry on its own table: valid
    writePipeline(dir, {
      baseUrl: "http://127.0.0.1:9/v1",
      name: "pg-clash",
      sinks: [`- { use: postgres, url: "${ref("DATABASE_URL")}", table: results }`],
      errors: [`- { use: postgres, url: "${ref("OTHER_URL")}", table: failures }`],
    });
    expect(await cli(["validate", "pipeline.yaml"], { cwd: dir, env })).toMatchObject({ code: 0 });
  });

  it("a password written out in the URL is refused like an inline api_key, unless --allow-inline-secrets; it is hidden in the frame", async () => {
    const dir = tempDir("bp-sink-pg-inline-");
    writeDataset(dir, 3);
    const spec = (sinks: string[]) =>
      writePipeline(dir, { baseUrl: "http://127.0.0.1:9/v1", name: "pg-inline", sinks });
    spec([
      '- { use: postgres, url: "postgres://app:s3cret-pw@db.example.com/app", table: results }',
      '- { use: postgres, url: "postgres://app@db.example.com/app?password=s3cret-pw", table: other }',
    ]);
    const env = { OPENAI_API_KEY: "sk-test" };
    const refused = await cli(["validate", "pipeline.yaml"], { cwd: dir, env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatchInlineSnapshot(`
      "pipeline.yaml:18:43 sinks[0].url: holds a password written out in a URL (hidden here): it must come from the environment
        16 |   poll_interval: 50ms
        17 | sinks:
      > 18 |   - { use: postgres, url: "postgres://app:*********@db.example.com/app", table: results }
           |                                           ^^^^^^^^^
        19 |   - { use: postgres, url: "postgres://app@db.example.com/app?password=*********", table: other }
        20 | errors:
        hint: write the whole value as a reference, e.g. url: "\${DATABASE_URL}", or just the password, e.g. user:\${DB_PASSWORD}@host; revoke the password if this file was shared

      pipeline.yaml:19:71 sinks[1].url: holds a password written out in a URL (hidden here): it must come from the environment
        17 | sinks:
        18 |   - { use: postgres, url: "postgres://app:*********@db.example.com/app", table: results }
      > 19 |   - { use: postgres, url: "postgres://app@db.example.com/app?password=*********", table: other }
           |                                                                       ^^^^^^^^^
        20 | errors:
        21 |   - { use: jsonl, path: ./out/errors.jsonl }
        hint: write the whole value as a reference, e.g. url: "\${DATABASE_URL}", or just the password, e.g. user:\${DB_PASSWORD}@host; revoke the password if this file was shared

      ✖ pipeline.yaml has 2 problems (SPEC_INVALID)
      "
    `);
    expect(refused.stderr).not.toContain("s3cret");

    expect(
      await cli(["validate", "pipeline.yaml", "--allow-inline-secrets"], { cwd: dir, env }),
    ).toMatchObject({ code: 0 });
    // the password as a reference is no inline secret
    spec([`- { use: postgres, url: "postgres://app:${ref("PGPASSWORD")}@db.example.com/app" }`]);
    expect(
      await cli(["validate", "pipeline.yaml"], { cwd: dir, env: { ...env, PGPASSWORD: "s3cret-pw" } }),
    ).toMatchObject({ code: 0 });
  });
});
