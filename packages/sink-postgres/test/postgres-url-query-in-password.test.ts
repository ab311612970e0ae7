// sink-postgres given a connection URL whose password holds a raw ? followed by key=value
// (`1?a=b`): the sink's check took `?a=b@host:port/db` for the URL's query (it lets a query value
// hold an @: ?user=me@corp), so validate passed, and pg read the user name as the host, the
// password's head as the port and the rest as the query. Now validate and run refuse it at the
// url's line, quoting nothing of it, and say how to percent-encode; the encoded URL connects.
import { createTestContext } from "@batchpipe/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import {
  cli,
  filesContaining,
  tempDir,
  writeDataset,
  writePipeline,
} from "../../batchpipe/test/support/harness.js";
import sink from "../src/index.js";
import { sharedPostgres, URL_REF } from "./support/postgres-server.mjs";

const PASSWORD = "1?a=b-Zq8";
/** what pg read as the query: the password's tail */
const TAIL = "a=b-Zq8";

let server: Awaited<ReturnType<typeof sharedPostgres>>;
beforeAll(async () => {
  server = await sharedPostgres();
  await server.query(`CREATE ROLE querier LOGIN PASSWORD '${PASSWORD}'`);
  await server.createDatabase("querier");
  await server.query("ALTER DATABASE querier OWNER TO querier");
});

const problems = (url: string) =>
  sink.check!({ options: sink.options.parse({ url }), resolvePath: (p) => p, env: {} }).problems ?? [];

describe("sink-postgres: a raw ? in the url's password", () => {
  it("validate and run refuse it at the url's line, quoting nothing of it", async () => {
    const dir = tempDir("bp-pg-url-query-");
    writeDataset(dir, 3);
    writePipeline(dir, {
      baseUrl: "http://127.0.0.1:9/v1",
      name: "pg-url-query",
      sinks: [`- { use: postgres, ${URL_REF} }`],
    });
    const env = {
      DATABASE_URL: `postgres://querier:${PASSWORD}@127.0.0.1:${server.port}/querier`,
      OPENAI_API_KEY: "sk-test",
    };
    for (const command of ["validate", "run"]) {
      const result = await cli([command, "pipeline.yaml"], { cwd: dir, env });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain(
        "pipeline.yaml:18:27 sinks[0].url: its user name or password holds @ / ? or # as it is, so part of it would be read as the server",
      );
      expect(result.stderr).toContain(
        "hint: Write it as postgres://user:password@host:5432/database with @ : / ? # in the user name or password percent-encoded (%40 %3A %2F %3F %23): the password p?ss#1 is written p%3Fss%231 (encodeURIComponent in JavaScript).",
      );
      expect(`${result.stdout}${result.stderr}`).not.toContain(TAIL);
    }
    expect(filesContaining(dir, TAIL)).toEqual([]);
    // refused before anything connected: no table
    expect(await server.query("SELECT to_regclass('public.results') AS t", [], "querier")).toEqual([
      { t: null },
    ]);
  });

  it("percent-encoded, the same password connects", async () => {
    const url = `postgres://querier:${encodeURIComponent(PASSWORD)}@127.0.0.1:${server.port}/querier`;
    expect(problems(url)).toEqual([]);
    const handle = await sink.open({
      ...createTestContext("/tmp", sink.options.parse({ url })),
      checkpoint: undefined,
    });
    await handle.close();
    expect(await server.query("SELECT to_regclass('public.results') AS t", [], "querier")).toEqual([
      { t: "results" },
    ]);
  });

  it("tells a ? in the password from the url's own query", () => {
    const refused = [
      "postgres://u:1?a=b@h:5432/db",
      "postgres://u:1?a=b@h",
      "postgres://u:1?a=b@h/db?sslmode=require",
      "postgres://u:p?ss@h/db",
      "postgres://u:p/w?a=b@h/db",
      "postgres://u:p#w@h/db",
    ];
    for (const url of refused) expect(problems(url), url).toHaveLength(1);
    // an @ in a query value that may hold one (Azure's user@server names, paths, options)
    const accepted = [
      "postgres://h/db?user=me@corp",
      "postgres://h?user=me@corp&sslmode=require",
      "postgres://u:p@h/db?application_name=a@b",
      "postgres://u:p%3Fw@h/db?sslmode=require&sslrootcert=/home/me@corp/root.crt",
      "postgres://h/db?options=-c%20search_path%3Da@b",
    ];
    for (const url of accepted) expect(problems(url), url).toEqual([]);
  });
});
