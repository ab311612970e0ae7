// sink-postgres writing into a table whose id (or another column) has a type of the DBA's choosing:
// varchar(n) and bigint. A cast to varchar(8) cut longer ids, so distinct ids delivered apart became
// one row and the others were lost, silently (exit 0); now the server's length check refuses them. A bigint id
// failed forget() (bigint = text), so every delivery with a failure into a table holding rows
// failed, after the run had paid; now the ids are compared as the column's type.
import type { FailureRow } from "@batchpipe/core/plugin";
import { createTestContext } from "@batchpipe/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writePipeline,
} from "../../batchpipe/test/support/harness.js";
import sink from "../src/index.js";
import { sharedPostgres, URL_REF } from "./support/postgres-server.mjs";

let server: Awaited<ReturnType<typeof sharedPostgres>>;
let emulator: EmulatorProcess;
beforeAll(async () => {
  [server, emulator] = await Promise.all([sharedPostgres(), startEmulatorProcess()]);
});
afterAll(async () => {
  await emulator?.close();
});

function failure(id: string): FailureRow {
  return {
    id,
    status: "failed",
    error: { code: "server_error", message: "boom", status_code: 500 },
    attempts: 1,
    batch_id: "batch_1",
    input: { id },
    source: { file: "/data/in.jsonl", line: 1 },
  };
}

describe("sink-postgres: an id column of another type than text", () => {
  it("varchar(8): ids longer than 8 characters are refused, not cut into one row", async () => {
    const url = await server.createDatabase("short_ids");
    await server.query(
      "CREATE TABLE results (id varchar(8) PRIMARY KEY, status text NOT NULL, output text)",
      [],
      "short_ids",
    );
    const dir = tempDir("bp-pg-varchar-");
    // order-2026-001 and order-2026-002: both "order-20" in 8 characters; one a batch, so each is
    // its own delivery (in one statement the second upsert of a row is refused)
    writeDataset(dir, 2, { id: (i) => `order-2026-00${i}` });
    const spec = writePipeline(dir, {
      baseUrl: emulator.url,
      name: "pg-varchar",
      batch: { max_requests: 1 },
      sinks: [`- { use: postgres, ${URL_REF}, table: results }`],
    });
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir, env: { DATABASE_URL: url } });
    const rows = await server.query("SELECT id FROM results", [], "short_ids");
    expect({ code: run.code, rows: rows.length }).toEqual({ code: 1, rows: 0 });
    const error = run.events.find((e) => e.type === "error")!;
    expect(error.code).toBe("PLUGIN_FAILED");
    expect(error.message).toMatch(
      /write failed: value too long for type character varying\(8\) \(22001\) \(the table's character varying\(8\) column: id\)$/,
    );
  }, 120_000);

  it("bigint: forget() deletes the stale rows of a table that holds rows", async () => {
    const url = await server.createDatabase("numeric_ids");
    const sql = (text: string) => server.query(text, [], "numeric_ids");
    await sql(
      "CREATE TABLE results (id bigint PRIMARY KEY, status text NOT NULL, output jsonb, error jsonb)",
    );
    await sql(
      "INSERT INTO results VALUES (5, 'success', '\"old answer\"', NULL), (6, 'success', '\"kept\"', NULL)",
    );
    const handle = await sink.open({
      ...createTestContext("/tmp", sink.options.parse({ url })),
      checkpoint: undefined,
    });
    // request 5 failed this time: its success of an earlier run is stale
    await handle.write([failure("7")]);
    await handle.forget!(["5"]);
    await handle.commit("k1");
    await handle.close();
    expect(await sql("SELECT id, status FROM results ORDER BY id")).toEqual([
      { id: "6", status: "success" },
      { id: "7", status: "failed" },
    ]);
  }, 60_000);
});
