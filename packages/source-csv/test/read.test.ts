import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { BatchpipeError, Checkpoint, SourceItem } from "@batchpipe/core/plugin";
import { readSource } from "@batchpipe/core/testing";
import { describe, expect, test } from "vitest";
import { writeFiles } from "../../batchpipe/test/support/harness.js";
import source from "../src/index.js";

const fixture = (files: Record<string, string | Buffer>) => writeFiles(files, "source-csv-");
const read = (dir: string, options: Record<string, unknown>, checkpoint?: Checkpoint) =>
  readSource(source, dir, options, checkpoint);

/** a compact view: `line:id` for records, `line:!message` for invalid ones */
function summary(items: SourceItem[]): string[] {
  return items.map((item) =>
    "invalid" in item
      ? `${item.position.line}:!${item.invalid.message.replace(/^.*?:\d+: /, "")}`
      : `${item.position.line}:${String(item.data.id)}`,
  );
}

const messy = [
  "\uFEFFid,text,stars", // a BOM before the header
  'a,"quoted, with a comma",5',
  'b,"two\nlines",4', // an embedded newline: the row spans lines 3-4
  "",
  'c,"say ""hi""",3', // an escaped quote, after a blank line
  "d,too,many,fields", // malformed: line 7
  'e,"three\r\nlines\nhere",x', // spans 8-10; `stars` is not an integer
  "f,plain,1",
  'g,"never closed,2\n',
].join("\n");

describe("rows", () => {
  test("quoted fields, embedded newlines and commas, a BOM, blank lines: every good row once, at the line it starts", async () => {
    const dir = fixture({ "in.csv": messy });
    const items = await read(dir, { path: "in.csv", types: { stars: "integer" } });
    expect(summary(items)).toEqual([
      "2:a",
      "3:b",
      "6:c",
      "7:!expected 3 fields (one per column), got 4",
      '8:!column "stars": expected integer, got "x"',
      "11:f",
      "12:!malformed CSV: a quoted field is still open at the end of the file",
    ]);
    expect(items.slice(0, 3).map((item) => ("data" in item ? item.data : undefined))).toEqual([
      { id: "a", text: "quoted, with a comma", stars: 5 },
      { id: "b", text: "two\nlines", stars: 4 },
      { id: "c", text: 'say "hi"', stars: 3 },
    ]);
    expect(items[3]).toMatchObject({
      invalid: {
        code: "invalid_input",
        message: `${join(dir, "in.csv")}:7: expected 3 fields (one per column), got 4`,
      },
      position: { file: join(dir, "in.csv"), line: 7 },
    });
  });

  test("values stay strings unless `types` says otherwise; an empty typed cell is null", async () => {
    const dir = fixture({ "in.csv": 'id,n,x,ok,tags\n1,2.5,7,true,"[""a""]"\n2,,,,\n' });
    const strings = await read(dir, { path: "in.csv" });
    expect("data" in strings[0]! && strings[0].data).toEqual({
      id: "1",
      n: "2.5",
      x: "7",
      ok: "true",
      tags: '["a"]',
    });
    const typed = await read(dir, {
      path: "in.csv",
      types: { n: "number", x: "integer", ok: "boolean", tags: "json", id: "string" },
    });
    expect(typed.map((item) => ("data" in item ? item.data : item))).toEqual([
      { id: "1", n: 2.5, x: 7, ok: true, tags: ["a"] },
      { id: "2", n: null, x: null, ok: null, tags: null },
    ]);
  });

  test("a number column takes decimal numbers only: hex, binary and octal text is invalid, not converted", async () => {
    const dir = fixture({
      "in.csv": "id,n\n1,-1.5e3\n2,.5\n3, 7. \n4,0x1A\n5,0b11\n6,0o17\n7,Infinity\n8,1e400\n",
    });
    const rows = await read(dir, { path: "in.csv", types: { n: "number" } });
    expect(rows.map((item) => ("data" in item ? item.data.n : item.invalid.message))).toEqual([
      -1500,
      0.5,
      7,
      ...["0x1A", "0b11", "0o17", "Infinity", "1e400"].map(
        (text, i) => `${join(dir, "in.csv")}:${i + 5}: column "n": expected number, got "${text}"`,
      ),
    ]);
  });

  test("a json column keeps the digits of an integer past 2^53 − 1, as a jsonl line does", async () => {
    const dir = fixture({ "in.csv": 'id,meta\n1,"{""order"": 12345678901234567891, ""n"": 7}"\n' });
    const rows = await read(dir, { path: "in.csv", types: { meta: "json" } });
    // JSON.parse alone gives 12345678901234567000
    expect("data" in rows[0]! && rows[0].data).toEqual({
      id: "1",
      meta: { order: "12345678901234567891", n: 7 },
    });
  });

  test("on_invalid: fail stops with SOURCE_FAILED at the line the row starts", async () => {
    const dir = fixture({ "in.csv": messy });
    const error = (await read(dir, { path: "in.csv", on_invalid: "fail" }).catch((e) => e)) as BatchpipeError;
    expect(error.code).toBe("SOURCE_FAILED");
    expect(error.loc).toEqual({ file: join(dir, "in.csv"), line: 7, column: 1 });
  });

  test("columns, header: false, delimiter, quote, escape and latin1", async () => {
    const dir = fixture({
      "semi.csv": "1;'it\\'s; fine'\n2;x\n",
      "named.csv": "a,b\n1,x\n",
      "latin1.csv": Buffer.from("id,name\n1,Jos\xe9\n", "latin1"),
    });
    const semi = await read(dir, {
      path: "semi.csv",
      header: false,
      columns: ["id", "text"],
      delimiter: ";",
      quote: "'",
      escape: "\\",
    });
    expect(semi.map((item) => ("data" in item ? item.data : item))).toEqual([
      { id: "1", text: "it's; fine" },
      { id: "2", text: "x" },
    ]);
    expect(semi[0]!.position.line).toBe(1);
    // the escape is the quote unless given: '' inside single quotes
    const single = await read(fixture({ "in.csv": "id,text\n1,'it''s \"fine\"'\n" }), {
      path: "in.csv",
      quote: "'",
    });
    expect(single.map((item) => ("data" in item ? item.data : item))).toEqual([
      { id: "1", text: 'it\'s "fine"' },
    ]);
    const renamed = await read(dir, { path: "named.csv", columns: ["id", "text"] });
    expect(renamed.map((item) => ("data" in item ? item.data : item))).toEqual([{ id: "1", text: "x" }]);
    const latin1 = await read(dir, { path: "latin1.csv", encoding: "latin1" });
    expect("data" in latin1[0]! && latin1[0].data.name).toBe("José");
  });

  test("a header with an empty or repeated name, `types` naming a missing column, and UTF-16 are SOURCE_FAILED", async () => {
    const dir = fixture({
      "empty.csv": "id,,x\n1,2,3\n",
      "twice.csv": "\nid,x,id\n1,2,3\n",
      "ok.csv": "id,x\n1,2\n",
      "utf16.csv": Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("id\n1\n", "utf16le")]),
    });
    const failure = async (options: Record<string, unknown>) =>
      (await read(dir, options).catch((e) => e)) as BatchpipeError;
    expect(await failure({ path: "empty.csv" })).toMatchObject({
      code: "SOURCE_FAILED",
      message: "column 2 of the header has no name",
      loc: { line: 1 },
    });
    expect(await failure({ path: "twice.csv" })).toMatchObject({
      message: 'the column name "id" appears twice',
      loc: { line: 2 },
    });
    expect((await failure({ path: "ok.csv", types: { stars: "integer" } })).message).toContain(
      '`types` names the column "stars"',
    );
    expect((await failure({ path: "utf16.csv" })).message).toContain("UTF-16");
  });

  test("rows and line numbers stay right across 1 MB read chunks", async () => {
    const rows: string[] = ["id,text"];
    const expected: string[] = [];
    let line = 2;
    for (let i = 0; i < 30_000; i++) {
      const pad = "x".repeat(40 + (i % 50));
      const text = i % 3 === 0 ? `"line one\nline two, ${pad}"` : `plain ${i} ${pad}`;
      rows.push(`r${i},${text}`);
      expected.push(`${line}:r${i}`);
      line += i % 3 === 0 ? 2 : 1;
    }
    const dir = fixture({ "in.csv": `${rows.join("\r\n")}\r\n` });
    expect(statSync(join(dir, "in.csv")).size).toBeGreaterThan(2 * 1024 * 1024);
    const items = await read(dir, { path: "in.csv" });
    expect(summary(items)).toEqual(expected);
    // resuming at a cursor deep in the file keeps the line numbers
    const rest = await read(dir, { path: "in.csv" }, items[20_000]!.cursor);
    expect(summary(rest)).toEqual(expected.slice(20_001));
  });
});

describe("inputs and resume", () => {
  test(".csv.gz files are decompressed; resume re-reads and skips", async () => {
    const text = ["id", ...Array.from({ length: 50 }, (_, i) => `r${i}`)].join("\n");
    const dir = fixture({ "in.csv.gz": gzipSync(text) });
    const items = await read(dir, { path: "in.csv.gz" });
    expect(items).toHaveLength(50);
    const rest = await read(dir, { path: "in.csv.gz" }, items[19]!.cursor);
    expect(summary(rest)[0]).toBe("22:r20");
    expect(rest).toHaveLength(30);
  });

  test("a folder reads every *.csv and *.csv.gz in it, sorted, each with its own header; a glob its matches", async () => {
    const dir = fixture({
      "data/b.csv": "id\nb1\n",
      "data/a.csv.gz": gzipSync("key,id\nx,a1\ny,a2\n"),
      "data/c.csv": "id\nc1\n",
      "data/notes.txt": "not data",
      "in/2024-02.csv": "id\nfeb\n",
      "in/2023-12.csv": "id\ndec\n",
    });
    const items = await read(dir, { path: "data" });
    expect(items.map((item) => ("data" in item ? item.data.id : "?"))).toEqual(["a1", "a2", "b1", "c1"]);
    const rest = await read(dir, { path: "data" }, items[1]!.cursor);
    expect(rest.map((item) => ("data" in item ? item.data.id : "?"))).toEqual(["b1", "c1"]);
    const globbed = await read(dir, { path: "in/2024-*.csv" });
    expect(globbed.map((item) => ("data" in item ? item.data.id : "?"))).toEqual(["feb"]);
  });

  test("a cursor stamped at a checkpoint: a file appended to resumes; one overwritten (plain or .gz) is SOURCE_FAILED", async () => {
    const rows = (tag: string) => `id,text\n${[1, 2, 3, 4].map((i) => `${tag}${i},text ${i}`).join("\n")}\n`;
    const dir = fixture({ "in.csv": rows("o"), "in.csv.gz": gzipSync(rows("o")) });
    for (const name of ["in.csv", "in.csv.gz"]) {
      const file = join(dir, name);
      const items = await read(dir, { path: name });
      const cursor = JSON.parse(JSON.stringify(await source.stampCursor!(items[1]!.cursor)));
      expect(cursor.sample).toMatch(/^\d+:[0-9a-f]{32}$/);
      if (name === "in.csv") {
        writeFileSync(file, `${rows("o")}o5,text 5\n`);
        expect(summary(await read(dir, { path: name }, cursor))).toEqual(["4:o3", "5:o4", "6:o5"]);
      }
      // the same size, other records
      writeFileSync(file, name.endsWith(".gz") ? gzipSync(rows("n")) : rows("n"));
      await expect(read(dir, { path: name }, cursor)).rejects.toMatchObject({
        code: "SOURCE_FAILED",
        message: expect.stringContaining(`cannot resume: ${file} changed since it was read: its `),
        hint: expect.stringContaining("batchpipe cancel"),
      });
    }
  });

  test("a cut-short or damaged .csv.gz is SOURCE_FAILED naming the file and the line reached", async () => {
    const rows = Array.from({ length: 30_000 }, (_, i) => `r${i},text ${i}`);
    const whole = gzipSync(`id,text\n${rows.join("\n")}\n`);
    const dir = fixture({
      "cut.csv.gz": whole.subarray(0, whole.length >> 1),
      "bad.csv.gz": "id,text\n1,x\n",
    });
    await expect(read(dir, { path: "cut.csv.gz" })).rejects.toMatchObject({
      code: "SOURCE_FAILED",
      message: expect.stringMatching(
        /cut\.csv\.gz: its gzip data is damaged or cut short after line \d+ \(unexpected end of file\)$/,
      ),
      hint: expect.stringContaining("gzip -t"),
    });
    await expect(read(dir, { path: "bad.csv.gz" })).rejects.toMatchObject({
      code: "SOURCE_FAILED",
      message: `${join(dir, "bad.csv.gz")} is not valid gzip data (incorrect header check): nothing in it could be read`,
      loc: { file: join(dir, "bad.csv.gz"), line: 1, column: 1 },
    });
  });

  test("resume after an invalid row, and a cursor past the end of a changed file", async () => {
    const dir = fixture({ "in.csv": messy });
    const items = await read(dir, { path: "in.csv", types: { stars: "integer" } });
    const rest = await read(dir, { path: "in.csv", types: { stars: "integer" } }, items[3]!.cursor);
    expect(summary(rest)).toEqual(summary(items.slice(4)));
    const pastEnd = { file: join(dir, "in.csv"), offset: 10_000, line: 3 };
    await expect(read(dir, { path: "in.csv" }, pastEnd)).rejects.toMatchObject({
      code: "SOURCE_FAILED",
      message: expect.stringContaining("shorter"),
    });
  });
});
