// Odd source input, end to end through `batchpipe run` against the emulator: every line has the
// outcome docs/input-handling.md documents, and duplicate ids stop the run before anything is spent; a
// damaged .gz stops it naming the file.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchpipe, readJsonl, report, startEmulator, tempDir, writePipeline } from "./support/harness.js";

interface Row {
  id: string;
  status: string;
  output?: unknown;
  input: Record<string, unknown> | null;
  error?: { code: string; message: string };
  source: { file: string; line: number };
}

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu?.close();
});

describe("source input oddities (jsonl source, real CLI)", () => {
  it("BOM, CRLF and blank lines are read; bad UTF-8, non-objects, broken and truncated lines become invalid_input rows with their line", async () => {
    const dir = tempDir();
    const data = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('{"id":"bom","text":"first line after a BOM"}\n'), // 1
      Buffer.from('{"id":"crlf","text":"windows line end"}\r\n'), // 2
      Buffer.from("\n"), // 3 blank
      Buffer.from(" \t \r\n"), // 4 whitespace only
      Buffer.from('{"id":"bad-utf8","text":"'),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from('"}\n'), // 5
      Buffer.from("[1,2,3]\n"), // 6
      Buffer.from("42\n"), // 7
      Buffer.from("null\n"), // 8
      Buffer.from('"a string"\n'), // 9
      Buffer.from('{"id":"ok","text":"fine"}\n'), // 10
      Buffer.from("{not json at all\n"), // 11
      Buffer.from('{"id":"trunc","text":"cut off by a cra'), // 12: truncated, no newline
    ]);
    fs.writeFileSync(path.join(dir, "data.jsonl"), data);
    const spec = writePipeline(dir, { baseUrl: emu.url });

    const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(3); // finished, some records failed
    expect(report(run)).toMatchObject({ read: 10, succeeded: 3, failed: 7, unaccounted: 0 });

    const results = readJsonl<Row>(path.join(dir, "out/results.jsonl"));
    expect(results.map((r) => r.id).sort()).toEqual(["bom", "crlf", "ok"]);
    expect(results.find((r) => r.id === "bom")!.input).toEqual({ id: "bom", text: "first line after a BOM" });
    expect(results.find((r) => r.id === "crlf")!.source.line).toBe(2);

    const errors = readJsonl<Row>(path.join(dir, "out/errors.jsonl"));
    const byLine = new Map(errors.map((e) => [e.source.line, e]));
    expect([...byLine.keys()].sort((a, b) => a - b)).toEqual([5, 6, 7, 8, 9, 11, 12]);
    for (const e of errors) {
      expect(e.error!.code).toBe("invalid_input");
      expect(e.status).toBe("failed");
      expect(e.source.file).toBe(path.join(dir, "data.jsonl"));
      // the message names the place, so a user can open the file at that line
      expect(e.error!.message).toContain(`data.jsonl:${e.source.line}`);
    }
    expect(byLine.get(5)!.error!.message).toMatch(/UTF-8/);
    expect(byLine.get(6)!.error!.message).toMatch(/array/);
    expect(byLine.get(7)!.error!.message).toMatch(/number/);
    expect(byLine.get(8)!.error!.message).toMatch(/null/);
    expect(byLine.get(12)!.error!.message).toMatch(/invalid JSON/);
  });

  it("a 50 MB single line is read whole and fails as request_too_large over batch.max_bytes; its neighbours succeed", async () => {
    const dir = tempDir();
    const big = JSON.stringify({ id: "huge", text: "x".repeat(50 * 1024 * 1024) });
    fs.writeFileSync(
      path.join(dir, "data.jsonl"),
      `{"id":"before","text":"a"}\n${big}\n{"id":"after","text":"b"}\n`,
    );
    const spec = writePipeline(dir, { baseUrl: emu.url, batch: { max_bytes: "8MB" } });
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(3);
    expect(report(run)).toMatchObject({ read: 3, succeeded: 2, failed: 1, unaccounted: 0 });
    const errors = readJsonl<Row>(path.join(dir, "out/errors.jsonl"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      id: "huge",
      error: { code: "request_too_large" },
      source: { line: 2 },
    });
    expect(
      readJsonl<Row>(path.join(dir, "out/results.jsonl"))
        .map((r) => r.id)
        .sort(),
    ).toEqual(["after", "before"]);
  });

  // issue 17 (streaming submission): a duplicate no longer refuses the run before any upload; each
  // later occurrence fails as duplicate_id with its place, the first occurrence is sent
  it("duplicate ids within and across files: each later one fails as duplicate_id with its place", async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, "data"));
    fs.writeFileSync(
      path.join(dir, "data/a.jsonl"),
      '{"id":"r1","text":"a"}\n{"id":"r2","text":"b"}\n{"id":"r1","text":"again"}\n',
    );
    fs.writeFileSync(path.join(dir, "data/b.jsonl"), '{"id":"r3","text":"c"}\n{"id":"r2","text":"d"}\n');
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      name: "dups",
      source: "  { use: jsonl, path: ./data/ }",
    });
    const run = await batchpipe(["run", spec], { cwd: dir });
    expect(run.code, run.stderr).toBe(3);
    const errors = readJsonl<{ id: string; error: { code: string }; source: { file: string; line: number } }>(
      path.join(dir, "out/errors.jsonl"),
    );
    expect(errors.map((e) => [e.id, e.error.code, path.basename(e.source.file), e.source.line])).toEqual([
      ["r1", "duplicate_id", "a.jsonl", 3],
      ["r2", "duplicate_id", "b.jsonl", 2],
    ]);
    expect(
      readJsonl<Row>(path.join(dir, "out/results.jsonl"))
        .map((r) => r.id)
        .sort(),
    ).toEqual(["r1", "r2", "r3"]);
  });

  it("a cut-short or damaged .jsonl.gz stops the run with SOURCE_FAILED naming the file and the line reached", async () => {
    const dir = tempDir();
    const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ id: `g${i}`, text: `t ${i}` }));
    const whole = zlib.gzipSync(`${lines.join("\n")}\n`);
    fs.writeFileSync(path.join(dir, "data.jsonl.gz"), whole.subarray(0, whole.length >> 1));
    const spec = writePipeline(dir, { baseUrl: emu.url, name: "gz-cut", data: "data.jsonl.gz" });
    const cut = await batchpipe(["run", spec], { cwd: dir });
    expect(cut.code, cut.stderr).toBe(1);
    const file = path.join(dir, "data.jsonl.gz");
    // the CLI shows the file relative to the folder it runs in, at the line after the last read
    expect(cut.stderr).toMatch(
      /data\.jsonl\.gz: its gzip data is damaged or cut short after line (\d+) \(unexpected end of file\) \(SOURCE_FAILED\)\n {2}at data\.jsonl\.gz:\d+:1/,
    );
    expect(cut.stderr).toContain(`Check the file (\`gzip -t ${file}\`)`);

    // not gzip at all (a fresh run: resuming the one above would refuse the changed file)
    const other = tempDir();
    fs.writeFileSync(path.join(other, "data.jsonl.gz"), '{"id":"not compressed"}\n');
    const otherSpec = writePipeline(other, { baseUrl: emu.url, name: "gz-bad", data: "data.jsonl.gz" });
    const damaged = await batchpipe(["run", otherSpec], { cwd: other });
    expect(damaged.code, damaged.stderr).toBe(1);
    expect(damaged.stderr).toContain(
      "data.jsonl.gz is not valid gzip data (incorrect header check): nothing in it could be read",
    );
  });
});
