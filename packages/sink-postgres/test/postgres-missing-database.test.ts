// A url naming a database the server does not have failed with 'database "nodb" does not exist
// (3D000)' and the generic connection hint (check the url, the password, that the server accepts
// connections), none of which is wrong. The hint now says to create it or fix the url's database.
import { createTestContext } from "@batchpipe/core/testing";
import { beforeAll, expect, it } from "vitest";
import sink from "../src/index.js";
import { sharedPostgres } from "./support/postgres-server.mjs";

let server: Awaited<ReturnType<typeof sharedPostgres>>;
beforeAll(async () => {
  server = await sharedPostgres();
});

it("a database the server does not have: the hint says to create it", async () => {
  const url = server.url("no_such_database");
  await expect(sink.open(createTestContext("/tmp", sink.options.parse({ url })))).rejects.toMatchObject({
    code: "PLUGIN_FAILED",
    message: expect.stringContaining('database "no_such_database" does not exist (3D000)'),
    hint: 'The url names a database the server does not have: create it (CREATE DATABASE "no_such_database", or createdb), or fix the database in the url (its path, after the port), then run again.',
  });
});
