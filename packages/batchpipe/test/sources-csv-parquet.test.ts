// The csv and parquet sources through the real CLI against the emulator: a messy CSV (a BOM, quoted
// fields with commas and newlines, a malformed row) delivers every good row once and fails the bad
// one with the line it starts on; a kill -9 while reading a CSV resumes from its byte-offset
// checkpoint; a Parquet file written by parquetjs-lite (snappy, a nested column) delivers every row,
// its nested values rendered by the template; a column the file lacks stops the run.
import fs from "node:fs";
import path from "node:path";
import type { FailureRow, SuccessRow } from "@batchpipe/core/plugin";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs helper (parquetjs-lite has no types)
import { writeParquet } from "../../source-parquet/test/fixtures/write-fixtures.mjs";
import {
  batchpipe,
  expectEachOnce,
  ROOT,
  readJsonl,
  report,
  startEmulator,
  tempDir,
  writePipeline,
} from "./support/harness.js";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu?.close();
});

describe("csv source (real CLI)", () => {
  it("quoted fields, embedded newlines and commas, a BOM and a malformed row: every good row once, the bad one failed at its line", async () => {
    const dir = tempDir();
    const csv = [
      "\uFEFFid,text,stars", // 1
      'a,"good, with a comma",5', // 2
      'b,"two\r\nlines",4', // 3-4
      'c,"say ""hi""",3', // 5
      "d,one,too,many", // 6: malformed
      'e,"last\nrow",2', // 7-8
      "f,typed,x", // 9: not an integer
      'g,"never closed,1', // 10: a quote still open at the end of the file
    ].join("\r\n");
    fs.writeFileSync(path.join(dir, "data.csv"), `${csv}\r\n`);
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      source: "  { use: csv, path: ./data.csv, types: { stars: integer } }",
      prompt: "{{ stars }} stars: {{ text }}",
    });

    const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(3); // finished, some records failed
    expect(report(run)).toMatchObject({ read: 7, succeeded: 4, failed: 3, unaccounted: 0 });

    const results = readJsonl<SuccessRow>(path.join(dir, "out/results.jsonl"));
    expect(results.map((r) => r.id).sort()).toEqual(["a", "b", "c", "e"]);
    const byId = new Map(results.map((r) => [r.id, r]));
    expect(byId.get("a")!.input).toEqual({ id: "a", text: "good, with a comma", stars: 5 });
    expect(byId.get("b")!.output).toBe("4 stars: two\r\nlines");
    expect(byId.get("c")!.output).toBe('3 stars: say "hi"');
    expect(byId.get("e")!.source).toEqual({ file: path.join(dir, "data.csv"), line: 7 });

    const errors = readJsonl<FailureRow>(path.join(dir, "out/errors.jsonl"));
    // source.file is absolute; a message names the file from the spec's folder
    const file = path.join(dir, "data.csv");
    expect(
      errors
        .sort((x, y) => x.source.line - y.source.line)
        .map((e) => [e.source, e.error.code, e.error.message]),
    ).toEqual([
      [{ file, line: 6 }, "invalid_input", `data.csv:6: expected 3 fields (one per column), got 4`],
      [{ file, line: 9 }, "invalid_input", `data.csv:9: column "stars": expected integer, got "x"`],
      [
        { file, line: 10 },
        "invalid_input",
        `data.csv:10: malformed CSV: a quoted field is still open at the end of the file`,
      ],
    ]);
  });

  it("`columns` with another count than the header's names stops the run at the header, not a failure row per row", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.csv"), "id,text,stars\na,x,5\nb,y,4\n");
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      source: "  { use: csv, path: ./data.csv, columns: [id, text] }",
    });
    const run = await batchpipe(["run", spec], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      "`columns` names 2 columns (id, text), but the header row has 3 (id, text, stars) (SOURCE_FAILED)\n  at data.csv:1:1",
    );
    expect(run.stderr).toContain(
      "hint: Give one name per column of the header (they replace its names, in order), or leave `columns` out to use the header's.",
    );
    const errors = path.join(dir, "out/errors.jsonl");
    expect(fs.existsSync(errors) ? readJsonl(errors) : []).toEqual([]);
  });

  it("kill -9 while reading 40,000 rows: the next run resumes from a byte-offset checkpoint; each id once", async () => {
    const name = "csv-kill";
    const n = 40_000;
    const dir = tempDir();
    let csv = "id,text\n";
    for (let i = 1; i <= n; i++)
      csv += i % 4 === 0 ? `k${i},"review, ${i % 7000}\nmore"\n` : `k${i},review ${i % 7000}\n`;
    fs.writeFileSync(path.join(dir, "data.csv"), csv);
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      name,
      source: "  { use: csv, path: ./data.csv }",
      batch: { max_requests: 5000 },
    });
    const engine = { readCheckpointEvery: 1000 };
    const first = await batchpipe(["run", spec, "--json"], {
      cwd: dir,
      engine,
      onEvent: (event, child) => {
        if (event.type === "read_progress" && (event.records as number) >= 15_000) child.kill("SIGKILL");
      },
    });
    expect(first.signal).toBe("SIGKILL");

    const second = await batchpipe(["run", spec, "--json"], { cwd: dir, engine, timeoutMs: 90_000 });
    expect(second.code, second.stderr).toBe(0);
    const started = second.events[0] as { type: string; resumed: boolean; readFrom?: number };
    expect(started).toMatchObject({ type: "run_started", resumed: true });
    expect(started.readFrom).toBeGreaterThan(0);
    expectEachOnce(path.join(dir, "out/results.jsonl"), n);
    const results = readJsonl<SuccessRow>(path.join(dir, "out/results.jsonl"));
    const k4 = results.find((r) => r.id === "k4")!;
    expect(k4.input).toEqual({ id: "k4", text: "review, 4\nmore" });
    expect(k4.source.line).toBe(5);
  }, 120_000);
});

describe("parquet source (real CLI)", () => {
  it("a file written by parquetjs-lite (snappy, a nested column): every row delivered, nested values used in the template", async () => {
    const dir = tempDir();
    fs.copyFileSync(
      path.join(ROOT, "packages/source-parquet/test/fixtures/reviews.snappy.parquet"),
      path.join(dir, "reviews.parquet"),
    );
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      source: "  { use: parquet, path: ./reviews.parquet }",
      prompt:
        "{{ meta.product }} by {{ meta.author.name }} [{{ meta.tags | join: '+' }}] {{ stars }}: {{ text }}",
    });

    const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(report(run)).toMatchObject({ read: 12, succeeded: 12, failed: 0, unaccounted: 0 });

    expectEachOnce(path.join(dir, "out/results.jsonl"), 12);
    const results = readJsonl<SuccessRow>(path.join(dir, "out/results.jsonl"));
    const byId = new Map(results.map((r) => [r.id, r]));
    expect(byId.get("rev-002")!.output).toBe("p-2 by author 2 [fast+cheap+sturdy] 3: review number 2");
    expect(byId.get("rev-002")!.source).toEqual({ file: path.join(dir, "reviews.parquet"), line: 3 });
    expect(byId.get("rev-002")!.input).toMatchObject({
      meta: {
        product: "p-2",
        tags: ["fast", "cheap", "sturdy"],
        author: { name: "author 2", verified: true },
      },
      created: "2026-11-03T12:00:00.000Z",
    });
  });

  it("a null struct or list column is null in the record, as a null plain column is: the template renders it empty", async () => {
    const dir = tempDir();
    const columns = {
      id: { type: "UTF8" },
      text: { type: "UTF8", optional: true },
      meta: { optional: true, fields: { product: { type: "UTF8" } } },
      tags: { type: "UTF8", repeated: true },
    };
    const rows = [
      { id: "a", text: "full", meta: { product: "lamp" }, tags: ["x", "y"] },
      { id: "b", text: undefined, meta: undefined, tags: [] },
    ];
    await writeParquet(path.join(dir, "in.parquet"), columns, rows);
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      source: "  { use: parquet, path: ./in.parquet }",
      prompt: "{{ id }}: {{ text }} / {{ meta.product }} / {{ tags | join: '+' }}",
    });

    const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(report(run)).toMatchObject({ read: 2, succeeded: 2, failed: 0 });
    const byId = new Map(readJsonl<SuccessRow>(path.join(dir, "out/results.jsonl")).map((r) => [r.id, r]));
    expect(byId.get("a")!.output).toBe("a: full / lamp / x+y");
    expect(byId.get("b")!.output).toBe("b:  /  / ");
    // an empty repeated field is null, as one nested in a struct already was
    expect(byId.get("b")!.input).toEqual({ id: "b", text: null, meta: null, tags: null });
  });

  it("an empty file (an export that failed, or not begun) stops the run saying it is empty", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "empty.parquet"), "");
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      source: "  { use: parquet, path: ./empty.parquet }",
    });
    const run = await batchpipe(["run", spec], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      "empty.parquet is empty (0 bytes): a Parquet file ends with its footer, which this one lacks (SOURCE_FAILED)",
    );
  });

  it("a column the file lacks stops the run before anything is sent: SOURCE_FAILED naming the columns it has", async () => {
    const dir = tempDir();
    fs.copyFileSync(
      path.join(ROOT, "packages/source-parquet/test/fixtures/reviews.snappy.parquet"),
      path.join(dir, "reviews.parquet"),
    );
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      source: "  { use: parquet, path: ./reviews.parquet, columns: [id, body] }",
    });
    const run = await batchpipe(["run", spec], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('reviews.parquet has no column "body"');
    expect(run.stderr).toContain("Its columns: id, text, stars, price, meta, created.");
  });
});
