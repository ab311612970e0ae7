// `cat a.jsonl b.jsonl > all.jsonl` of files written with a UTF-8 byte order mark (Windows tools,
// Excel's Power Query) puts a BOM at the start of a line in the middle of the file. JSON.parse
// refuses it, so that record used to fail as invalid_input ("Unexpected token '﻿'", an invisible
// character) and was not sent.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { Checkpoint, SourceItem } from "@batchpipe/core/plugin";
import { createTestContext } from "@batchpipe/core/testing";
import { expect, test } from "vitest";
import source from "../src/index.js";

const BOM = "\uFEFF";
const text = `${BOM}{"id":"a"}\r\n{"id":"b"}\r\n${BOM}{"id":"c"}\r\n${BOM}\r\n${BOM}{"id":"d"}\n`;

function write(file: string, content: string | Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), "source-jsonl-bom-"));
  writeFileSync(join(dir, file), content);
  return dir;
}

async function read(dir: string, file: string, checkpoint?: Checkpoint) {
  const items: SourceItem[] = [];
  const ctx = createTestContext(dir, source.options.parse({ path: file }));
  for await (const item of source.read({ ...ctx, checkpoint })) items.push(item);
  return items;
}

function summary(items: SourceItem[]): string[] {
  return items.map((item) =>
    "invalid" in item
      ? `${item.position.line}:!${item.invalid.message}`
      : `${item.position.line}:${item.data.id}`,
  );
}

test("a BOM at the start of any line is skipped, plain or gzipped, from the start or resumed", async () => {
  const expected = ["1:a", "2:b", "3:c", "5:d"];
  const plain = write("all.jsonl", text);
  const items = await read(plain, "all.jsonl");
  expect(summary(items)).toEqual(expected);
  expect(summary(await read(write("all.jsonl.gz", gzipSync(text)), "all.jsonl.gz"))).toEqual(expected);
  // resumed after line 2: the next line starts with a BOM
  expect(summary(await read(plain, "all.jsonl", items[1]!.cursor))).toEqual(["3:c", "5:d"]);
});

test("a BOM inside a line is still refused", async () => {
  const items = await read(write("in.jsonl", `{"id":"a"}\n {${BOM}"id":"b"}\n`), "in.jsonl");
  expect(summary(items)[1]).toMatch(/^2:!.*invalid JSON/);
});
