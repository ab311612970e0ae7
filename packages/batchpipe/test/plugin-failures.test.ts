// Plugin failures through the real CLI: a sink that throws stops the run cleanly and the next run
// delivers the rest exactly once; a sink that hangs hits batch.plugin_timeout with an error
// naming it; a source that throws mid-stream stops the run before anything is spent, and the next
// run reads it again to the end.
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchesOf,
  batchpipe,
  expectEachOnce,
  FIXTURES,
  readJsonl,
  records,
  report,
  startEmulator,
  tempDir,
  writePipeline,
} from "./support/harness.js";

const STACK_LINE = /^\s+at .+[:(]\d+:\d+\)?$/m;

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu?.close();
});

const ours = (name: string) => batchesOf(emu, name);

describe("plugin failures", () => {
  it("a sink that throws on write stops the run with the state intact; the next run delivers the rest exactly once", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(40));
    fs.writeFileSync(path.join(dir, "broken"), "");
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      name: "flaky-sink",
      batch: { max_requests: 10 },
      sinks: [
        `- { use: ${path.join(FIXTURES, "plugins/flaky-sink.ts")}, path: ./out/results.jsonl, fail_marker: ./broken, fail_after: 20 }`,
      ],
    });

    const first = await batchpipe(["run", spec], { cwd: dir });
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/sinks\[0\].*failed in write: EIO: the disk went away/);
    expect(first.stderr).toContain("PLUGIN_FAILED");
    expect(first.stderr).toMatch(/hint: .*run again/);
    expect(first.stderr).not.toMatch(STACK_LINE);
    const delivered = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl"));
    expect(delivered).toHaveLength(20);
    expect(fs.existsSync(path.join(dir, ".batchpipe/flaky-sink/state.db"))).toBe(true);
    const batchesBefore = ours("flaky-sink").length;
    expect(batchesBefore).toBe(4);

    fs.rmSync(path.join(dir, "broken"));
    const second = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(second.stderr).toBe("");
    expect(second.code).toBe(0);
    expect(second.events[0]).toMatchObject({ type: "run_started", resumed: true });
    expect(report(second)).toMatchObject({ read: 40, succeeded: 40, failed: 0, unaccounted: 0 });
    expectEachOnce(path.join(dir, "out/results.jsonl"), 40);
    // the resumed run paid for nothing again
    expect(ours("flaky-sink").length).toBe(batchesBefore);
  });

  /** 100 records into a sink that fails past its 50th row while ./broken exists (it does) */
  const brokenAfter50 = (name: string) => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(100));
    fs.writeFileSync(path.join(dir, "broken"), "");
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      name,
      sinks: [
        `- { use: ${path.join(FIXTURES, "plugins/flaky-sink.ts")}, path: ./out/results.jsonl, fail_marker: ./broken, fail_after: 50 }`,
      ],
    });
    return { dir, spec };
  };

  // a delivery is recorded part by part; the run that finishes it may deliver in parts of another
  // size (EngineTuning.deliveryPartSize; the CLI's default is 5,000)
  it.each([
    { first: 20, second: undefined, label: "5,000 (the default)", committed: 40 },
    { first: 30, second: 20, label: "20", committed: 30 },
  ])(
    "a delivery cut short in parts of $first is finished in parts of $label: every row once",
    async ({ first, second, committed }) => {
      const name = `part-size-${first}-${second}`;
      const { dir, spec } = brokenAfter50(name);
      const cut = await batchpipe(["run", spec], { cwd: dir, engine: { deliveryPartSize: first } });
      expect(cut.code, cut.stderr).toBe(1);
      expect(cut.stderr).toContain("EIO: the disk went away");
      expect(readJsonl(path.join(dir, "out/results.jsonl"))).toHaveLength(committed);

      fs.rmSync(path.join(dir, "broken"));
      const rest = await batchpipe(["run", spec, "--json"], {
        cwd: dir,
        engine: second === undefined ? undefined : { deliveryPartSize: second },
      });
      expect(rest.code, rest.stderr).toBe(0);
      expect(report(rest)).toMatchObject({ read: 100, succeeded: 100, failed: 0, unaccounted: 0 });
      expectEachOnce(path.join(dir, "out/results.jsonl"), 100);
      expect(ours(name)).toHaveLength(1);
    },
  );

  it("a delivery cut short by an earlier build, its parts numbered, is finished after its last part", async () => {
    const { dir, spec } = brokenAfter50("numbered-parts");
    const engine = { deliveryPartSize: 20 };
    expect((await batchpipe(["run", spec], { cwd: dir, engine })).code).toBe(1);
    // the earlier build's keys: `<run>:<shard>#p<n>` for the n-th part
    const db = new Database(path.join(dir, ".batchpipe/numbered-parts/state.db"));
    const parts = db
      .prepare("SELECT key FROM deliveries WHERE key LIKE '%@%' ORDER BY key")
      .pluck()
      .all() as string[];
    expect(parts.map((key) => key.replace(/^.*@/, ""))).toEqual(["20", "40"]);
    parts.forEach((key, n) => {
      db.prepare("UPDATE deliveries SET key = ? WHERE key = ?").run(key.replace(/@\d+$/, `#p${n}`), key);
    });
    db.close();

    fs.rmSync(path.join(dir, "broken"));
    const rest = await batchpipe(["run", spec, "--json"], { cwd: dir, engine });
    expect(rest.code, rest.stderr).toBe(0);
    expectEachOnce(path.join(dir, "out/results.jsonl"), 100);
  });

  it("a sink that cannot roll back, killed right after committing a shard's last part: committed(key) makes the next run skip it", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(100));
    fs.writeFileSync(path.join(dir, "kill"), "");
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      name: "commit-log",
      sinks: [
        `- { use: ${path.join(FIXTURES, "plugins/commit-log-sink.ts")}, path: ./out/log.jsonl, kill_marker: ./kill }`,
      ],
    });
    // one part (the default part size is 5,000): killed right after the sink committed it
    const first = await batchpipe(["run", spec], { cwd: dir });
    expect(first.signal, first.stderr).toBe("SIGKILL");
    expect(readJsonl(path.join(dir, "out/log.jsonl"))).toHaveLength(100);
    const second = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(second.code, second.stderr).toBe(0);
    expectEachOnce(path.join(dir, "out/log.jsonl"), 100);
  });

  it("a sink that hangs hits the plugin timeout; the error names the plugin and the process exits", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(3));
    const plugin = path.join(FIXTURES, "plugins/hang-sink.ts");
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      name: "hang",
      sinks: [`- { use: ${plugin} }`],
      // not 1 s: on a loaded machine the built-in errors sink took longer than that to open
      batch: { plugin_timeout: "3s" },
    });
    const run = await batchpipe(["run", spec], { cwd: dir });
    expect(run.signal).toBeNull();
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("did not answer within 3 s in write");
    expect(run.stderr).toContain(`sinks[0]`);
    expect(run.stderr).toContain("PLUGIN_FAILED");
    expect(run.stderr).toContain("raise batch.plugin_timeout");
    expect(run.stderr).not.toMatch(STACK_LINE);
  });

  it("a plugin file with a syntax error is named with its own file:line:col; --debug prints the parser's error", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(1));
    fs.mkdirSync(path.join(dir, "plugins"));
    fs.writeFileSync(
      path.join(dir, "plugins/syntax.ts"),
      'import { defineSink } from "@batchpipe/core/plugin";\nexport default defineSink({ name: "x",\n',
    );
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      name: "syntax",
      sinks: ["- { use: ./plugins/syntax.ts }"],
    });
    const run = await batchpipe(["validate", spec], { cwd: dir });
    expect(run.code).toBe(2);
    // jiti's place is 0-based in its column; shown 1-based, relative to the folder the command ran in
    expect(run.stderr).toContain(
      "sinks[0].use: ./plugins/syntax.ts failed to load: ParseError: Unexpected token at plugins/syntax.ts:3:1 (PLUGIN_INVALID)",
    );
    const debug = await batchpipe(["validate", spec, "--debug"], { cwd: dir });
    expect(debug.stderr).toContain("[cause of sinks[0].use] Error: ParseError: Unexpected token");
    expect(debug.stderr).toContain(`${path.join(dir, "plugins/syntax.ts")}:3:0`);
  });

  it("a source that throws mid-stream stops the run before any spend; the next run reads to the end", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(30));
    fs.writeFileSync(path.join(dir, "broken"), "");
    const plugin = path.join(FIXTURES, "plugins/flaky-source.ts");
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      name: "flaky-source",
      source: `  { use: ${plugin}, path: ./data.jsonl, fail_marker: ./broken, fail_after: 12 }`,
    });
    const first = await batchpipe(["run", spec], { cwd: dir });
    expect(first.code).toBe(1);
    expect(first.stderr).toContain("connection reset while reading record 13");
    expect(first.stderr).toContain("source (flaky-source) failed while reading");
    expect(first.stderr).toContain("PLUGIN_FAILED");
    expect(first.stderr).not.toMatch(STACK_LINE);
    expect(ours("flaky-source")).toHaveLength(0);

    fs.rmSync(path.join(dir, "broken"));
    const second = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(second.code).toBe(0);
    expect(report(second)).toMatchObject({ read: 30, succeeded: 30, failed: 0, unaccounted: 0 });
    expectEachOnce(path.join(dir, "out/results.jsonl"), 30);
    expect(ours("flaky-source")).toHaveLength(1);
  });
});
