// `cat part-000.csv part-001.csv > all.csv` (BigQuery, Spark and pandas write a header in every
// shard) leaves the second file's header as a row in the middle. It was read as a record: the
// request "text" went to the model under the id "id", paid, and nothing said so.
import type { SourceItem } from "@batchpipe/core/plugin";
import { readSource } from "@batchpipe/core/testing";
import { expect, test } from "vitest";
import { writeFiles } from "../../batchpipe/test/support/harness.js";
import source from "../src/index.js";

const summary = (items: SourceItem[]) =>
  items.map((item) =>
    "invalid" in item
      ? `${item.position.line}:!${item.invalid.message.replace(/^.*?:\d+: /, "")}`
      : `${item.position.line}:${String(item.data.id)}`,
  );

const joined = "id,text\n1,a\n2,b\nid,text\n3,c\n";
const why = "the row repeats the header row (files joined with `cat`?): it is not a record";

test("a row that repeats the header is an invalid_input row, not a record", async () => {
  const dir = writeFiles({ "all.csv": joined }, "source-csv-");
  expect(summary(await readSource(source, dir, { path: "all.csv" }))).toEqual([
    "2:1",
    "3:2",
    `4:!${why}`,
    "5:3",
  ]);
  // resumed after line 3: the header is read on its own, and the repeat still found
  const items = await readSource(source, dir, { path: "all.csv" });
  expect(summary(await readSource(source, dir, { path: "all.csv" }, items[1]!.cursor))).toEqual([
    `4:!${why}`,
    "5:3",
  ]);
  // each file written with a BOM: the repeat starts with one
  const boms = writeFiles({ "all.csv": `\uFEFFid,text\n1,a\n\uFEFFid,text\n3,c\n` }, "source-csv-");
  expect(summary(await readSource(source, boms, { path: "all.csv" }))).toEqual(["2:1", `3:!${why}`, "4:3"]);
  // with `columns` renaming the header's names, the file's own header is still what repeats
  expect(summary(await readSource(source, dir, { path: "all.csv", columns: ["id", "body"] }))[2]).toBe(
    `4:!${why}`,
  );
});

test("without a header row, a row like any other is a record", async () => {
  const dir = writeFiles({ "all.csv": "1,a\nid,text\n" }, "source-csv-");
  expect(
    summary(await readSource(source, dir, { path: "all.csv", header: false, columns: ["id", "text"] })),
  ).toEqual(["1:1", "2:id"]);
});
