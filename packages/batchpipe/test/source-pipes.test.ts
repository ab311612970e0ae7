// The jsonl source fed by a producer process, through the real CLI against the emulator: standard
// input (`path: "-"`) and a named pipe (mkfifo). validate never opens either.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  batchesOf,
  batchpipe,
  CLI_BIN,
  childEnv,
  expectEachOnce,
  readJsonl,
  records,
  signalOnce,
  startEmulator,
  tempDir,
  waitFor,
  writeDataset,
  writePipeline,
} from "./support/harness.js";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu?.close();
});
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

/** the test-only CLI entry that takes engine tuning (small read checkpoints) */
const CLI_CHILD = path.join(import.meta.dirname, "support/cli-child.mjs");

/** `batchpipe <args>` with its stdin a pipe the test holds; resolves with the exit code and output */
function withStdin(args: string[], cwd: string, engine?: Record<string, number>) {
  const entry = engine ? [CLI_CHILD, JSON.stringify(engine)] : [CLI_BIN];
  const child = spawn(process.execPath, [...entry, ...args], { cwd, env: childEnv(), stdio: "pipe" });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
    if (/"type":"read_progress"/.test(String(d))) child.emit("read_progress");
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done };
}

/** a pipeline reading standard input, and the export (`records` lines) a producer feeds it */
function stdinExport(name: string, records: number, maxRequests: number) {
  const dir = tempDir();
  const data = writeDataset(dir, records, { file: "export.jsonl" });
  const spec = writePipeline(dir, {
    baseUrl: emu.url,
    name,
    source: '  { use: jsonl, path: "-" }',
    batch: { max_requests: maxRequests },
  });
  return { dir, data, spec };
}

/** `run` fed `lines` on stdin, holding it open after them, SIGKILLed once two of its batches exist */
async function killAfterTwoBatches(name: string, spec: string, dir: string, lines: string[]) {
  const first = withStdin(["run", spec, "--json"], dir, { readCheckpointEvery: 500 });
  first.child.stdin!.write(`${lines.join("\n")}\n`);
  await waitFor(() => batchesOf(emu, name).length >= 2, 30_000, "two batches of stdin");
  first.child.kill("SIGKILL");
  await first.done;
}

/** `run` fed all of `lines` on stdin, to its end */
function runFed(spec: string, dir: string, lines: string[]) {
  const run = withStdin(["run", spec, "--json"], dir);
  run.child.stdin!.end(`${lines.join("\n")}\n`);
  return run.done;
}

interface Row {
  id: string;
  source: { file: string; line: number };
  error?: { code: string; message: string };
}

describe("the jsonl source on a pipe (real CLI, emulator)", () => {
  it('`batchpipe run` with `path: "-"` reads the records piped to its stdin, each delivered once at file "-"', async () => {
    const dir = tempDir();
    const data = writeDataset(dir, 300, { file: "export.jsonl" });
    fs.appendFileSync(data, "not json\n");
    const spec = writePipeline(dir, { baseUrl: emu.url, source: '  { use: jsonl, path: "-" }' });

    const run = withStdin(["run", spec, "--json"], dir);
    // producer | batchpipe run pipeline.yaml
    fs.createReadStream(data).pipe(run.child.stdin);
    const { code, stdout, stderr } = await run.done;
    expect(stderr).toBe("");
    expect(code).toBe(3); // finished; the line that is not JSON failed

    const finished = stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l))
      .find((e) => e.type === "run_finished");
    expect(finished.report).toMatchObject({ read: 301, succeeded: 300, failed: 1, unaccounted: 0 });
    const results = path.join(dir, "out/results.jsonl");
    expectEachOnce(results, 300);
    const rows = readJsonl<Row>(results);
    expect(rows.find((r) => r.id === "rec-7")!.source).toEqual({ file: "-", line: 7 });
    const [failure] = readJsonl<Row>(path.join(dir, "out/errors.jsonl"));
    expect(failure!.source).toEqual({ file: "-", line: 301 });
    expect(failure!.error!.message).toMatch(/^-:301: invalid JSON/);
  });

  it('`batchpipe try` and `plan` with `path: "-"` read the records piped to stdin (their spec check passes standard input)', async () => {
    const dir = tempDir();
    const data = writeDataset(dir, 3, { file: "export.jsonl" });
    const spec = writePipeline(dir, { baseUrl: emu.url, source: '  { use: jsonl, path: "-" }' });
    for (const command of ["try", "plan"]) {
      const run = withStdin([command, spec], dir);
      fs.createReadStream(data).pipe(run.child.stdin);
      const { code, stdout, stderr } = await run.done;
      expect(stderr).toBe("");
      expect(code).toBe(0);
      expect(stdout).toContain(command === "try" ? "3 records tried: 3 answered" : "3 records → 3 requests");
    }
  });

  it("SIGKILL while reading stdin: the next run reads from the start (no cursor) and the producer feeds it again; each record once", async () => {
    // one shard for all 12,000: nothing is submitted before the crash (no first, smaller shard)
    const { dir, data, spec } = stdinExport("stdin-crash", 12_000, 50_000);
    const first = withStdin(["run", spec, "--json"], dir, { readCheckpointEvery: 1000 });
    // 10,000 records, then the producer holds stdin open: the read waits, with checkpoints committed
    const lines = fs.readFileSync(data, "utf8").split("\n");
    first.child.stdin.write(`${lines.slice(0, 10_000).join("\n")}\n`);
    await new Promise((resolve) => first.child.once("read_progress", resolve));
    first.child.kill("SIGKILL");
    await first.done;
    expect(batchesOf(emu, "stdin-crash")).toEqual([]);

    const again = withStdin(["run", spec, "--json"], dir);
    fs.createReadStream(data).pipe(again.child.stdin);
    const { code, stdout, stderr } = await again.done;
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain("gives no cursor to resume from; reading starts over");
    expectEachOnce(path.join(dir, "out/results.jsonl"), 12_000);
    // nothing was submitted before the crash, and each request once after it (the input files are
    // deleted once their batch ends, so the counts are what is left to look at)
    const batches = batchesOf(emu, "stdin-crash");
    expect(batches.reduce((sum, b) => sum + b.request_counts.total, 0)).toBe(12_000);
  });

  it("SIGKILL after shards of stdin were sent: fed again in another order, the resumed read refuses (it skipped unread records); in the same order it resumes, each record once", async () => {
    const { dir, data, spec } = stdinExport("stdin-refed", 6_000, 1_000);
    const lines = fs.readFileSync(data, "utf8").trimEnd().split("\n");
    // shards of the first 4,000 are out (a resumed read then skips what its checkpoint covers)
    await killAfterTwoBatches("stdin-refed", spec, dir, lines.slice(0, 4_000));

    // an export without ORDER BY: the same records, another order
    const shuffled = [...lines.slice(0, 4_000)].reverse().concat(lines.slice(4_000));
    const refed = withStdin(["run", spec, "--json"], dir);
    // it stops before it has read all of it: the rest of the write meets a closed pipe
    refed.child.stdin!.on("error", () => {});
    refed.child.stdin!.end(`${shuffled.join("\n")}\n`);
    const refused = await refed.done;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("was fed other records than before the interruption");
    expect(refused.stderr).toContain("(SOURCE_FAILED)");

    const resumed = await runFed(spec, dir, lines);
    expect(resumed.code, resumed.stderr).toBe(0);
    expectEachOnce(path.join(dir, "out/results.jsonl"), 6_000);
    const sent = batchesOf(emu, "stdin-refed").reduce((sum, b) => sum + b.request_counts.total, 0);
    expect(sent).toBe(6_000);
  });

  it("SIGKILL after shards were sent, then resumed: records identical to those shards' requests wait for their collection and are answered from the cache, not paid again", async () => {
    const { dir, spec } = stdinExport("stdin-identical", 0, 1_000);
    // 4,000 distinct requests, then 16,000 records repeating them
    const lines = Array.from({ length: 20_000 }, (_, i) =>
      JSON.stringify({ id: `i${i}`, text: `body ${i % 4_000}` }),
    );
    await killAfterTwoBatches("stdin-identical", spec, dir, lines.slice(0, 4_000));

    // the resumed run collects the batches that ended meanwhile while it reads the repeats
    const resumed = await runFed(spec, dir, lines);
    expect(resumed.code, resumed.stderr).toBe(0);
    expectEachOnce(path.join(dir, "out/results.jsonl"), 20_000);
    // before, 1,000 to 3,700 of the repeats were sent again (a user's four kills: 6,224 / 7,670 /
    // 5,248 / 7,027 requests for 5,000 distinct ones)
    const sent = batchesOf(emu, "stdin-identical").reduce((sum, b) => sum + b.request_counts.total, 0);
    expect(sent).toBe(4_000);
  });

  it("`batchpipe run` reads a named pipe that a producer process writes, each record once", async () => {
    const dir = tempDir();
    const data = writeDataset(dir, 200, { file: "export.jsonl" });
    const fifo = path.join(dir, "in.fifo");
    execFileSync("mkfifo", [fifo]);
    const spec = writePipeline(dir, { baseUrl: emu.url, data: "in.fifo" });

    // the producer writes in small pieces, with pauses, and closes the pipe at the end
    const producer = spawn(
      process.execPath,
      [
        "-e",
        `const fs = require("node:fs");
        const text = fs.readFileSync(process.argv[1]);
        const fd = fs.openSync(process.argv[2], "w");
        let at = 0;
        const step = () => {
          if (at >= text.length) return fs.closeSync(fd);
          at += fs.writeSync(fd, text, at, Math.min(4096, text.length - at));
          setTimeout(step, 5);
        };
        step();`,
        data,
        fifo,
      ],
      { stdio: "inherit" },
    );
    children.push(producer);
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expectEachOnce(path.join(dir, "out/results.jsonl"), 200);
    const rows = readJsonl<Row>(path.join(dir, "out/results.jsonl"));
    expect(rows.find((r) => r.id === "rec-150")!.source).toEqual({ file: fifo, line: 150 });
  });

  it.each([
    ["nobody has opened the pipe for writing yet", 0],
    ["the producer wrote 5 records and holds the pipe open", 5],
  ])(
    "SIGINT while the run waits on a named pipe (%s) stops it: interrupted, state saved",
    async (_, count) => {
      const dir = tempDir();
      const fifo = path.join(dir, "in.fifo");
      execFileSync("mkfifo", [fifo]);
      const spec = writePipeline(dir, { baseUrl: emu.url, data: "in.fifo" });
      if (count > 0) {
        const producer = spawn(
          process.execPath,
          [
            "-e",
            `const fs = require("node:fs");
          fs.writeSync(fs.openSync(process.argv[1], "w"), process.argv[2]);
          setInterval(() => undefined, 1000);`,
            fifo,
            records(count),
          ],
          { stdio: "inherit" },
        );
        children.push(producer);
      }
      const run = await batchpipe(["run", spec, "--json"], {
        cwd: dir,
        timeoutMs: 60_000,
        onEvent(event, child) {
          // the read starts right after; a moment later it is waiting on the pipe
          if (event.type === "run_started") signalOnce(child, "SIGINT", 1500);
        },
      });
      expect(run.signal).toBeNull();
      expect(run.stderr).toBe("");
      expect(run.code).toBe(130);
      expect(run.events.at(-1)).toMatchObject({ type: "interrupted", signal: "SIGINT" });
    },
  );

  it("`batchpipe validate` on a named pipe nobody writes returns at once, without opening it", async () => {
    const dir = tempDir();
    execFileSync("mkfifo", [path.join(dir, "in.fifo")]);
    const spec = writePipeline(dir, { baseUrl: emu.url, data: "in.fifo" });
    // were the pipe opened for reading, validate would wait for a writer until this SIGKILL
    const run = await batchpipe(["validate", spec], { cwd: dir, timeoutMs: 30_000 });
    expect(run.signal).toBeNull();
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("is valid");
  });

  it('`batchpipe validate` with `path: "-"` returns without reading stdin (left open)', async () => {
    const dir = tempDir();
    const spec = writePipeline(dir, { baseUrl: emu.url, source: '  { use: jsonl, path: "-" }' });
    const run = withStdin(["validate", spec], dir);
    const timer = setTimeout(() => run.child.kill("SIGKILL"), 30_000);
    const { code, stdout, stderr } = await run.done;
    clearTimeout(timer);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain("is valid");
  });

  it('`batchpipe run --detach` with `path: "-"` is refused: the background process has no stdin (it read nothing and said "completed")', async () => {
    const dir = tempDir();
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      name: "detach-stdin",
      source: '  { use: jsonl, path: "-" }',
    });
    const run = withStdin(["run", spec, "--detach"], dir);
    run.child.stdin!.end(records(5));
    const { code, stderr } = await run.done;
    expect(code).toBe(2);
    expect(stderr).toContain("reads standard input, which a background run (--detach) does not have (USAGE)");
    expect(batchesOf(emu, "detach-stdin")).toHaveLength(0);
    expect(fs.existsSync(path.join(dir, ".batchpipe/detach-stdin/daemon.json"))).toBe(false);
  });

  it("`batchpipe watch` refuses standard input and a named pipe (usage error) instead of waiting for files", async () => {
    const dir = tempDir();
    execFileSync("mkfifo", [path.join(dir, "in.fifo")]);
    for (const [source, what] of [
      ['"-"', "standard input"],
      ["./in.fifo", "the named pipe"],
    ] as const) {
      const spec = writePipeline(dir, { baseUrl: emu.url, source: `  { use: jsonl, path: ${source} }` });
      const run = await batchpipe(["watch", spec], { cwd: dir, timeoutMs: 30_000 });
      expect(run.signal).toBeNull();
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(what);
      expect(run.stderr).toContain("batchpipe run");
    }
  });

  it("the csv source refuses a named pipe clearly instead of calling it missing", async () => {
    const dir = tempDir();
    execFileSync("mkfifo", [path.join(dir, "in.csv")]);
    const spec = writePipeline(dir, { baseUrl: emu.url, source: "  { use: csv, path: ./in.csv }" });
    const run = await batchpipe(["run", spec], { cwd: dir, timeoutMs: 30_000 });
    expect(run.signal).toBeNull();
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("is a named pipe");
    expect(run.stderr).not.toContain("no such file");
  });
});
