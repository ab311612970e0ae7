import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readFileLines, readLinesSync } from "../src/engine/read/files.js";

const CHUNK = 1 << 18;

const fileOf = (text: string) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bp-lines-")), "f.jsonl");
  fs.writeFileSync(file, text);
  return file;
};

async function linesOf(text: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of readFileLines(fileOf(text))) lines.push(line);
  return lines;
}

describe("line readers", () => {
  it("gives back every line whole across its reads: one longer than a read, a character and a CRLF cut by a read's end, empty lines, a last line without its newline", async () => {
    // the second line starts 199 bytes before the first read's end: the read cuts its last "é"
    // (2 bytes) in two
    const first = "a".repeat(CHUNK - 200);
    const second = `{"x":"${"é".repeat(97)}"}`;
    const long = "b".repeat(CHUNK * 2 + 5);
    const lines = [first, second, "", long, '{"last":true}'];
    const text = `${first}\n${second}\r\n\n${long}\n${lines[4]}`;
    expect(await linesOf(text)).toEqual(lines);
    // a CRLF whose \r ends a read
    const cut = "c".repeat(CHUNK - 1);
    expect(await linesOf(`${cut}\r\nnext\n`)).toEqual([cut, "next"]);
    expect(await linesOf("")).toEqual([]);
    expect(await linesOf("\n")).toEqual([""]);
  });

  it("readLinesSync: the same lines up to a limit (reads of 1 MB), and refuses a file that ends inside a line", () => {
    const long = "d".repeat((1 << 20) + 3);
    const text = `${long}\r\n{"é":1}\n\ntail`;
    const file = fileOf(text);
    const upTo = Buffer.byteLength(text) - "tail".length;
    expect([...readLinesSync(file, upTo)]).toEqual([long, '{"é":1}', ""]);
    expect(() => [...readLinesSync(file)]).toThrow(/ends inside a line/);
    expect(() => [...readLinesSync(file, upTo + 100)]).toThrow(/shorter than/);
  });
});
