// Named pipes and standard input: real FIFOs (mkfifo) fed by real producer processes.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import type { SourceItem } from "@batchpipe/core/plugin";
import { createTestContext } from "@batchpipe/core/testing";
import { afterEach, describe, expect, test } from "vitest";
import source from "../src/index.js";

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

function fifoIn(dir: string, name: string): string {
  const file = join(dir, name);
  execFileSync("mkfifo", [file]);
  return file;
}

/** a node process running `code` with `args`; its stdin is a pipe the test writes to */
function node(code: string, args: string[], stdin: "pipe" | "ignore" = "pipe"): ChildProcess {
  const child = spawn(process.execPath, ["-e", code, ...args], { stdio: [stdin, "pipe", "inherit"] });
  children.push(child);
  return child;
}

function items(dir: string, path: string): AsyncIterator<SourceItem> {
  const ctx = createTestContext(dir, source.options.parse({ path }));
  return source.read({ ...ctx, checkpoint: undefined })[Symbol.asyncIterator]();
}

async function rest(it: AsyncIterator<SourceItem>): Promise<SourceItem[]> {
  const out: SourceItem[] = [];
  for (let next = await it.next(); !next.done; next = await it.next()) out.push(next.value);
  return out;
}

const ids = (list: SourceItem[]) => list.map((item) => ("data" in item ? item.data.id : "!"));

// writes two records, holds the pipe open until told to go on (a line on its stdin), then writes one more
const SLOW_PRODUCER = `
const fs = require("node:fs");
const fd = fs.openSync(process.argv[1], "w");
fs.writeSync(fd, '{"id":"r1"}\\n{"id":"r2"}\\n');
process.stdin.once("data", () => { fs.writeSync(fd, 'not json\\n{"id":"r4"}\\n'); fs.closeSync(fd); process.exit(0); });
`;

describe("a named pipe", () => {
  test("is read as a stream: record 1 arrives while the producer still holds the pipe open", async () => {
    const dir = mkdtempSync(join(tmpdir(), "source-jsonl-pipe-"));
    const fifo = fifoIn(dir, "in.fifo");
    const producer = node(SLOW_PRODUCER, [fifo]);
    const it = items(dir, "in.fifo");

    const first = await it.next();
    expect(first.done).toBe(false);
    expect(first.value).toMatchObject({ data: { id: "r1" }, position: { file: fifo, line: 1 } });
    // the producer has not been told to finish: it is alive and still has the pipe open
    expect(producer.exitCode).toBeNull();
    // a pipe cannot be read again: no cursor to resume from (the engine then reads from the start)
    expect(first.value.cursor).toBeUndefined();

    producer.stdin!.end("go\n");
    const others = await rest(it);
    expect(ids(others)).toEqual(["r2", "!", "r4"]);
    expect(others.map((item) => item.position)).toEqual([2, 3, 4].map((line) => ({ file: fifo, line })));
    expect(others.every((item) => item.cursor === undefined)).toBe(true);
  });

  test("a .jsonl.gz pipe is gunzipped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "source-jsonl-pipe-"));
    const fifo = fifoIn(dir, "in.jsonl.gz");
    const data = join(dir, "data.gz");
    writeFileSync(data, gzipSync('{"id":"a"}\n{"id":"b"}\n'));
    node(
      `require("node:fs").createReadStream(process.argv[1]).pipe(require("node:fs").createWriteStream(process.argv[2]))`,
      [data, fifo],
    );
    const all = await rest(items(dir, "in.jsonl.gz"));
    expect(ids(all)).toEqual(["a", "b"]);
  });

  test("in a folder or matched by a glob it is skipped (never opened), as before", async () => {
    const dir = mkdtempSync(join(tmpdir(), "source-jsonl-pipe-"));
    fifoIn(dir, "a.jsonl");
    writeFileSync(join(dir, "b.jsonl"), '{"id":"b"}\n');
    expect(ids(await rest(items(dir, ".")))).toEqual(["b"]);
    expect(ids(await rest(items(dir, "*.jsonl")))).toEqual(["b"]);
  });

  test("a checkpoint naming a pipe cannot be resumed (SOURCE_FAILED), without opening it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "source-jsonl-pipe-"));
    const fifo = fifoIn(dir, "in.fifo");
    const ctx = createTestContext(dir, source.options.parse({ path: "in.fifo" }));
    const read = source.read({ ...ctx, checkpoint: { file: fifo, line: 2, offset: 24 } });
    await expect(rest(read[Symbol.asyncIterator]())).rejects.toMatchObject({
      code: "SOURCE_FAILED",
      message: expect.stringContaining("cannot resume"),
    });
  });

  test("check() declares it without opening it; `-` is declared as standard input", () => {
    const dir = mkdtempSync(join(tmpdir(), "source-jsonl-pipe-"));
    const fifo = fifoIn(dir, "in.fifo");
    const check = (path: string) =>
      source.check!({
        options: source.options.parse({ path }),
        resolvePath: (p) => resolve(dir, p),
        env: {},
      });
    expect(check("in.fifo")).toEqual({ reads: [{ path: fifo, option: "path" }] });
    expect(check("-")).toEqual({ reads: [{ path: "-", option: "path" }] });
  });
});

describe("standard input (`path: -`)", () => {
  // `script` (util-linux) runs the reader on a pseudo-terminal: its stdin is a terminal, as when
  // nothing is piped into `batchpipe run`
  const hasScript = spawnSync("script", ["--version"]).status === 0;
  test.skipIf(!hasScript)(
    "a terminal on stdin is refused at once (SOURCE_FAILED, pipe the records in)",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "bp-jsonl-tty-"));
      const file = join(dir, "reader.mjs");
      writeFileSync(
        file,
        `const { default: source } = await import(${JSON.stringify(resolve(import.meta.dirname, "../dist/index.js"))});
      const ctx = { options: source.options.parse({ path: "-" }), resolvePath: (p) => p, logger: console,
        signal: new AbortController().signal, checkpoint: undefined };
      console.log("stdin is a terminal: " + String(process.stdin.isTTY === true));
      try { for await (const item of source.read(ctx)) console.log("read", JSON.stringify(item)); console.log("ended"); }
      catch (error) { console.log(error.code, error.message, "|", error.hint); process.exitCode = 3; }`,
      );
      const reader = spawn("script", ["-qec", `${JSON.stringify(process.execPath)} ${file}`, "/dev/null"], {
        stdio: ["pipe", "pipe", "inherit"],
      });
      children.push(reader);
      let out = "";
      reader.stdout!.on("data", (d) => {
        out += d;
      });
      // without the check the reader waits for typed records: stopped here, it fails below
      const timer = setTimeout(() => reader.kill("SIGKILL"), 5000);
      const code = await new Promise((r) => reader.once("close", r));
      clearTimeout(timer);
      expect(out).toContain("stdin is a terminal: true");
      expect(out).toContain('SOURCE_FAILED source path "-" reads standard input, which is a terminal here');
      expect(out).toContain("Pipe the records in");
      expect(code).toBe(3);
    },
  );

  test("records come from stdin as they are written, at file `-` and their line, without cursors", async () => {
    // the source in its own process, its stdin a pipe from this test
    const entry = resolve(import.meta.dirname, "../dist/index.js");
    const reader = node(
      `import(process.argv[1]).then(async ({ default: source }) => {
        const ctx = { options: source.options.parse({ path: "-" }), resolvePath: (p) => p, logger: console,
          signal: new AbortController().signal, checkpoint: undefined };
        for await (const item of source.read(ctx)) process.stdout.write(JSON.stringify(item) + "\\n");
      })`,
      [entry],
    );
    let out = "";
    reader.stdout!.on("data", (d) => {
      out += d;
    });
    const until = async (n: number) => {
      while (out.split("\n").length <= n) {
        if (reader.exitCode !== null) throw new Error(`the reader exited $reader.exitCode: $out`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    reader.stdin!.write('{"id":"s1"}\n');
    // the first record comes out while stdin is still open
    await until(1);
    expect(reader.exitCode).toBeNull();
    reader.stdin!.end('\n{"id":"s3"}\n[]\n[{"id":"s5"}]\n');
    const code = await new Promise((r) => reader.once("close", r));
    expect(code).toBe(0);
    const lines = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((item) => item.position)).toEqual([
      { file: "-", line: 1 },
      { file: "-", line: 3 },
      { file: "-", line: 4 },
      { file: "-", line: 5 },
    ]);
    expect(lines.map((item) => item.data?.id ?? item.invalid.message)).toEqual([
      "s1",
      "s3",
      "-:4: expected a JSON object, got an array",
      // standard input has no file name for jq: the note says to convert it in the pipe
      "-:5: expected a JSON object, got an array: the input looks like a JSON array of objects, not JSON Lines (one object per line, no [ ] or commas between them); convert it, pipe it through jq -c '.[]' on the way in",
    ]);
    expect(lines.some((item) => "cursor" in item)).toBe(false);
  });
});
