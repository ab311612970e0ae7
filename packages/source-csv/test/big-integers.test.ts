// BigQuery, Snowflake and pandas export INT64 ids (tweet ids, order numbers) past 2^53 − 1. A
// column typed `integer` refused each such row as "expected integer, got "12345678901234567891"",
// though the value is an integer: the row failed with no word on why or on what to type instead.
import type { SourceItem } from "@batchpipe/core/plugin";
import { readSource } from "@batchpipe/core/testing";
import { expect, test } from "vitest";
import { writeFiles } from "../../batchpipe/test/support/harness.js";
import source from "../src/index.js";

const messages = (items: SourceItem[]) =>
  items.map((item) =>
    "invalid" in item ? item.invalid.message.replace(/^.*?:\d+: /, "") : JSON.stringify(item.data),
  );

test("an integer past 2^53 − 1 in an integer column says why it is refused and what to use", async () => {
  const dir = writeFiles(
    { "in.csv": "id,n\na,9007199254740991\nb,12345678901234567891\nc,-9007199254740993\nd,1.5\n" },
    "source-csv-",
  );
  expect(messages(await readSource(source, dir, { path: "in.csv", types: { n: "integer" } }))).toEqual([
    '{"id":"a","n":9007199254740991}',
    'column "n": 12345678901234567891 is past 2^53 − 1 (9007199254740991), beyond which a number loses digits; leave the column a string (no type) or type it json (which keeps such integers as strings of their digits)',
    'column "n": -9007199254740993 is past 2^53 − 1 (9007199254740991), beyond which a number loses digits; leave the column a string (no type) or type it json (which keeps such integers as strings of their digits)',
    'column "n": expected integer, got "1.5"',
  ]);
  // the way out it names: json keeps the digits
  expect(messages(await readSource(source, dir, { path: "in.csv", types: { n: "json" } }))[1]).toBe(
    '{"id":"b","n":"12345678901234567891"}',
  );
});
