// The sink quotes table and schema names, so their case counts; a table or schema made by an
// unquoted CREATE (CREATE TABLE Sentiment makes sentiment) is not the one `table: Sentiment` names.
// The sink created "Sentiment" beside the user's sentiment without a word, and every row went to
// the new table. It now warns when it creates a table beside its lower-case twin, and a missing
// schema's hint names the lower-case one. The shared server.
import { createTestContext, silentLogger } from "@batchpipe/core/testing";
import { beforeAll, expect, it } from "vitest";
import sink from "../src/index.js";
import { sharedPostgres } from "./support/postgres-server.mjs";

let server: Awaited<ReturnType<typeof sharedPostgres>>;
let url: string;
const DB = "name_case";
beforeAll(async () => {
  server = await sharedPostgres();
  url = await server.createDatabase(DB);
});

async function openWith(options: Record<string, unknown>) {
  const warnings: string[] = [];
  const logger = { ...silentLogger, warn: (message: string) => warnings.push(message) };
  const context = createTestContext("/tmp", sink.options.parse({ url, ...options }));
  const handle = await sink.open({ ...context, logger });
  return { handle, warnings };
}

it("creating Sentiment beside sentiment (an unquoted CREATE TABLE Sentiment) warns and names the fix", async () => {
  await server.query("CREATE TABLE Sentiment (id text PRIMARY KEY, status text, output text)", [], DB);
  const first = await openWith({ table: "Sentiment" });
  await first.handle.close();
  expect(first.warnings).toEqual([
    'postgres sink: created the table "public"."Sentiment" beside "public"."sentiment": the sink quotes table: Sentiment, so its case counts (an unquoted CREATE TABLE Sentiment made sentiment). To write that one, set table: sentiment',
  ]);
  // the fix writes the user's table, with no word; a lower-case name never warns
  const fixed = await openWith({ table: "sentiment" });
  await fixed.handle.close();
  const fresh = await openWith({ table: "labels" });
  await fresh.handle.close();
  expect([...fixed.warnings, ...fresh.warnings]).toEqual([]);
});

it("a schema named Staging that is missing, beside staging: the hint names staging", async () => {
  await server.query("CREATE SCHEMA Staging", [], DB);
  await expect(openWith({ table: "results", schema: "Staging" })).rejects.toMatchObject({
    code: "PLUGIN_FAILED",
    hint: expect.stringContaining(
      "(the sink quotes schema: Staging, so its case counts: an unquoted CREATE SCHEMA Staging made staging; to use that one, set schema: staging)",
    ),
  });
});
