import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { BatchpipeError, Checkpoint, SourceItem } from "@batchpipe/core/plugin";
import { createTestContext } from "@batchpipe/core/testing";
import { describe, expect, test } from "vitest";
import source from "../src/index.js";

function fixture(files: Record<string, string | Buffer>): string {
  const dir = mkdtempSync(join(tmpdir(), "source-jsonl-"));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

async function read(dir: string, options: Record<string, unknown>, checkpoint?: Checkpoint) {
  const items: SourceItem[] = [];
  const parsed = source.options.parse(options);
  for await (const item of source.read({ ...createTestContext(dir, parsed), checkpoint })) items.push(item);
  return items;
}

/** a compact view: `line:id` for records, `line:!message` for invalid ones */
function summary(items: SourceItem[]): string[] {
  return items.map((item) =>
    "invalid" in item
      ? `${item.position.line}:!${item.invalid.message.replace(/^.*?:\d+: /, "")}`
      : `${item.position.line}:${String(item.data.id)}`,
  );
}

describe("line outcomes", () => {
  test("an integer past 2^53 − 1 keeps its digits, as a string (JSON.parse rounded it)", async () => {
    const dir = fixture({
      "in.jsonl": [
        '{"id":12345678901234567891,"order":{"no":-9007199254740993,"list":[9007199254740993]},"text":"12345678901234567891 \\" 99999999999999999"}',
        '{"id":9007199254740991,"price":1.2345678901234567891,"big":1e300,"n":2}',
      ].join("\n"),
    });
    const [first, second] = (await read(dir, { path: "in.jsonl" })) as Array<{
      data: Record<string, unknown>;
    }>;
    expect(first!.data).toEqual({
      id: "12345678901234567891",
      order: { no: "-9007199254740993", list: ["9007199254740993"] },
      text: '12345678901234567891 " 99999999999999999',
    });
    // safe integers, fractions and exponents stay numbers
    expect(second!.data).toEqual({ id: 9007199254740991, price: 1.2345678901234567, big: 1e300, n: 2 });
  });

  test("blank lines are skipped but counted; CRLF and a BOM are handled", async () => {
    const dir = fixture({ "in.jsonl": '\uFEFF{"id":"a"}\r\n\r\n   \n{"id":"b"}\r\n\n{"id":"c"}\n' });
    expect(summary(await read(dir, { path: "in.jsonl" }))).toEqual(["1:a", "4:b", "6:c"]);
  });

  test("a truncated last line without a newline is still parsed", async () => {
    const dir = fixture({ "in.jsonl": '{"id":"a"}\n{"id":"b"}' });
    const items = await read(dir, { path: "in.jsonl" });
    expect(summary(items)).toEqual(["1:a", "2:b"]);
    expect(items[1]!.cursor).toEqual({ file: join(dir, "in.jsonl"), line: 2, offset: 21, before: [] });
  });

  test("invalid JSON, non-objects and invalid UTF-8 become invalid_input records with their line", async () => {
    const bad = Buffer.concat([
      Buffer.from('{"id":"a"}\n{"id": nope}\n[1,2]\n42\n"text"\nnull\n'),
      Buffer.from([0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a]), // {"id":"\xff\xfe"}
      Buffer.from('{"id":"b"}\n'),
    ]);
    const dir = fixture({ "in.jsonl": bad });
    const items = await read(dir, { path: "in.jsonl" });
    expect(summary(items)).toEqual([
      "1:a",
      expect.stringMatching(/^2:!invalid JSON: /),
      "3:!expected a JSON object, got an array",
      "4:!expected a JSON object, got a number",
      "5:!expected a JSON object, got a string",
      "6:!expected a JSON object, got null",
      "7:!the line is not valid UTF-8",
      "8:b",
    ]);
    const invalid = items[1]!;
    expect(invalid).toMatchObject({
      invalid: { code: "invalid_input" },
      position: { file: join(dir, "in.jsonl"), line: 2 },
    });
    expect("invalid" in invalid && invalid.invalid.message).toMatch(
      `${join(dir, "in.jsonl")}:2: invalid JSON`,
    );
  });

  test("a JSON array of objects given as JSON Lines: its lines say what the file is and how to convert it", async () => {
    const note =
      "the file looks like a JSON array of objects, not JSON Lines (one object per line, no [ ] or commas between them); convert it, e.g. jq -c '.[]' data.json > data.jsonl";
    const dir = fixture({
      "data.json": '[\n  {"id": "a"},\n  {"id": "b"}\n]\n',
      "one.json": '[{"id": "a"}, {"id": "b"}]\n',
    });
    expect(summary(await read(dir, { path: "data.json" }))).toEqual([
      `1:!invalid JSON: Unexpected end of JSON input: ${note}`,
      expect.stringMatching(/^2:!invalid JSON: .*: the file looks like a JSON array of objects/),
      "3:b",
      `4:!invalid JSON: Unexpected token ']', "]" is not valid JSON: ${note}`,
    ]);
    expect(summary(await read(dir, { path: "one.json" }))).toEqual([
      `1:!expected a JSON object, got an array: ${note.replace("data.json > data.jsonl", "one.json > one.jsonl")}`,
    ]);
  });

  test("on_invalid: fail stops with SOURCE_FAILED at file:line", async () => {
    const dir = fixture({ "in.jsonl": '{"id":"a"}\n\n[1]\n{"id":"b"}\n' });
    const error = (await read(dir, { path: "in.jsonl", on_invalid: "fail" }).catch(
      (e) => e,
    )) as BatchpipeError;
    expect(error.code).toBe("SOURCE_FAILED");
    expect(error.loc).toEqual({ file: join(dir, "in.jsonl"), line: 3, column: 1 });
    expect(error.message).toContain("expected a JSON object, got an array");
  });

  test("multi-byte characters and lines longer than a read chunk survive chunk boundaries", async () => {
    const long = "é🚀".repeat(400_000); // ~2.4 MB, spans several 1 MB chunks
    const records = [
      { id: "a", text: long },
      { id: "b", text: "ü" },
      { id: "c", text: long.slice(1) },
    ];
    const dir = fixture({ "in.jsonl": records.map((r) => JSON.stringify(r)).join("\n") });
    const items = await read(dir, { path: "in.jsonl" });
    expect(items.map((item) => ("data" in item ? item.data : item))).toEqual(records);
  });
});

describe("inputs", () => {
  test(".jsonl.gz files are decompressed, and resume re-reads and skips", async () => {
    const text = Array.from({ length: 50 }, (_, i) => JSON.stringify({ id: `r${i}` })).join("\n");
    const dir = fixture({ "in.jsonl.gz": gzipSync(text) });
    const items = await read(dir, { path: "in.jsonl.gz" });
    expect(items).toHaveLength(50);
    const rest = await read(dir, { path: "in.jsonl.gz" }, items[19]!.cursor);
    expect(summary(rest)[0]).toBe("21:r20");
    expect(rest).toHaveLength(30);
  });

  test("a folder reads every *.jsonl and *.jsonl.gz in it, sorted, and nothing else", async () => {
    const dir = fixture({
      "data/b.jsonl": '{"id":"b1"}\n',
      "data/a.jsonl.gz": gzipSync('{"id":"a1"}\n{"id":"a2"}\n'),
      "data/c.jsonl": '{"id":"c1"}\n',
      "data/notes.txt": "not data",
      "data/sub/d.jsonl": '{"id":"d1"}\n',
    });
    const items = await read(dir, { path: "data" });
    expect(items.map((item) => ("data" in item ? item.data.id : "?"))).toEqual(["a1", "a2", "b1", "c1"]);
    expect(items[2]!.position).toEqual({ file: join(dir, "data/b.jsonl"), line: 1 });
    // resuming from the last record of the first file continues with the next file
    const rest = await read(dir, { path: "data" }, items[1]!.cursor);
    expect(rest.map((item) => ("data" in item ? item.data.id : "?"))).toEqual(["b1", "c1"]);
  });

  test("a glob reads the matching files, sorted", async () => {
    const dir = fixture({
      "in/2024-02.jsonl": '{"id":"feb"}\n',
      "in/2024-01.jsonl": '{"id":"jan"}\n',
      "in/2023-12.jsonl": '{"id":"dec"}\n',
    });
    const items = await read(dir, { path: "in/2024-*.jsonl" });
    expect(items.map((item) => ("data" in item ? item.data.id : "?"))).toEqual(["jan", "feb"]);
  });

  test("a missing path, an empty folder and a glob without matches are SOURCE_FAILED", async () => {
    const dir = fixture({ "empty/readme.txt": "" });
    for (const path of ["missing.jsonl", "empty", "nothing-*.jsonl"]) {
      await expect(read(dir, { path })).rejects.toMatchObject({ code: "SOURCE_FAILED" });
    }
  });

  test("a cursor naming a file that is no longer an input, or past its end, is SOURCE_FAILED", async () => {
    const dir = fixture({ "in.jsonl": '{"id":"a"}\n' });
    const gone = { file: join(dir, "gone.jsonl"), line: 1, offset: 11 };
    await expect(read(dir, { path: "in.jsonl" }, gone)).rejects.toMatchObject({ code: "SOURCE_FAILED" });
    const pastEnd = { file: join(dir, "in.jsonl"), line: 3, offset: 40 };
    await expect(read(dir, { path: "in.jsonl" }, pastEnd)).rejects.toMatchObject({
      code: "SOURCE_FAILED",
      message: expect.stringContaining("shorter"),
    });
    const atEnd = { file: join(dir, "in.jsonl"), line: 1, offset: 11 };
    expect(await read(dir, { path: "in.jsonl" }, atEnd)).toEqual([]);
  });
});
