// A server that takes no writes (a read replica, or default_transaction_read_only on for the role or
// the database) failed the open with "cannot execute CREATE TABLE in a read-only transaction
// (25006)" and the generic hint "Fix the database problem". The hint now says why and what to do.
// The shared server, the setting given for the sink's session in its url.
import { createTestContext } from "@batchpipe/core/testing";
import { beforeAll, expect, it } from "vitest";
import sink from "../src/index.js";
import { sharedPostgres } from "./support/postgres-server.mjs";

let url: string;
beforeAll(async () => {
  url = await (await sharedPostgres()).createDatabase("read_only_session");
});

function open(sessionUrl: string, table: string) {
  return sink.open(createTestContext("/tmp", sink.options.parse({ url: sessionUrl, table })));
}

it("a read-only session: PLUGIN_FAILED with the server's reason and what to do", async () => {
  const readOnly = `${url}?options=-c%20default_transaction_read_only%3Don`;
  await expect(open(readOnly, "answers")).rejects.toMatchObject({
    code: "PLUGIN_FAILED",
    message: expect.stringContaining(
      "open failed: cannot execute CREATE TABLE in a read-only transaction (25006)",
    ),
    hint: expect.stringMatching(
      /^The server takes no writes in the sink's session: it is a read replica \(hot standby\), or default_transaction_read_only is on .*Point url at the primary/,
    ),
  });
  // the hint's own way out, for the sink's session
  const handle = await open(`${url}?options=-c%20default_transaction_read_only%3Doff`, "answers");
  await handle.close();
});
