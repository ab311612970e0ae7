// The sink conformance suite against a real PostgreSQL server (started for this file).
import { testSink } from "@batchpipe/core/testing";
import { beforeAll, test } from "vitest";
import sink from "../src/index.js";
import { sharedPostgres } from "./support/postgres-server.mjs";

let server: Awaited<ReturnType<typeof sharedPostgres>>;
let url: string;
let tables = 0;
beforeAll(async () => {
  server = await sharedPostgres();
  url = await server.createDatabase();
});

const checks = testSink(sink, {
  // a table per check: the checks share one database
  makeOptions: () => ({ url, table: `sentiment_${++tables}` }),
  readBack: async (options) => {
    const rows: { id: string; status: string; output: unknown; error: unknown }[] = await server.query(
      `SELECT id, status, output, error FROM "${options.table}"`,
      [],
      new URL(options.url).pathname.slice(1),
    );
    return rows.map((row) => ({
      id: row.id,
      status: row.status,
      ...(row.status === "success" ? { output: row.output } : { error: row.error }),
    }));
  },
  invalidOptions: [
    { options: { url: "postgres://h/db", table: "bad-name" }, path: ["table"] },
    { options: { url: "postgres://h/db", table: 'x"; DROP TABLE t; --' }, path: ["table"] },
    { options: { url: "postgres://h/db", schema: "a.b" }, path: ["schema"] },
    { options: { url: "mysql://h/db" }, path: ["url"] },
    { options: { table: "ok" }, path: ["url"] },
    { options: { url: "postgres://h/db", columns: ["id", "nope"] }, path: ["columns", 1] },
  ],
});

for (const check of checks) test(check.name, check.run);
