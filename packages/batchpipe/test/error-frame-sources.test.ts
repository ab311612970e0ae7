// The lines an error shows around its place (the code frame) come from the file it names, read
// only when that file is a regular text file: a named pipe the source read (a producer's export)
// hung the CLI after it printed the error (the frame's read waited for a writer that was gone),
// and a gzip file's frame showed its compressed bytes.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { batchpipe, startBatchpipe, tempDir, writeEmulatorPipeline } from "./support/harness.js";

const good = '{"id":"a","text":"x"}\n{"id":"b","text":"y"}\n';

describe("the code frame of a source error", () => {
  it("a named pipe: the error is printed and the CLI ends (no frame)", async () => {
    const dir = tempDir("bp-frame-fifo-");
    execFileSync("mkfifo", [path.join(dir, "feed.jsonl")]);
    writeEmulatorPipeline(dir, { name: "frame-fifo", source: "./feed.jsonl, on_invalid: fail" });
    const run = startBatchpipe(["run", "pipeline.yaml"], { cwd: dir, timeoutMs: 30_000 });
    fs.writeFileSync(path.join(dir, "feed.jsonl"), `${good}not json\n`);
    const done = await run.done;
    expect(done.signal, done.stderr).toBeNull();
    expect(done.code).toBe(1);
    expect(done.stderr).toContain("feed.jsonl:3: invalid JSON");
    expect(done.stderr).not.toContain("> 3 |");
  });

  it("a gzip file: no frame of its compressed bytes", async () => {
    const dir = tempDir("bp-frame-gz-");
    fs.writeFileSync(path.join(dir, "data.jsonl.gz"), zlib.gzipSync(`${good}not json\n`));
    writeEmulatorPipeline(dir, { name: "frame-gz", source: "./data.jsonl.gz, on_invalid: fail" });
    const done = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(done.code, done.stderr).toBe(1);
    expect(done.stderr).toContain("data.jsonl.gz:3: invalid JSON");
    // no replacement character, no control byte (the compressed bytes read as text)
    expect([...done.stderr].filter((c) => c === "\uFFFD" || c.charCodeAt(0) < 9)).toEqual([]);
  });

  it("a plain file: the frame shows the line", async () => {
    const dir = tempDir("bp-frame-plain-");
    fs.writeFileSync(path.join(dir, "data.jsonl"), `${good}not json\n`);
    writeEmulatorPipeline(dir, { name: "frame-plain", source: "./data.jsonl, on_invalid: fail" });
    const done = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(done.code, done.stderr).toBe(1);
    expect(done.stderr).toContain("> 3 | not json");
  });
});
