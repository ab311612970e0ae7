// A read resumed from its checkpoint checks that its input files are still those it read: through
// the real CLI, a jsonl folder source is killed (SIGKILL) on a `read_progress` event after its first
// checkpoints, the files are changed, and the next run either resumes (files added after the
// cursor's file) or stops with SOURCE_FAILED naming what changed, instead of skipping or mixing
// records silently.
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type ChildRun,
  idCounts,
  readJsonl,
  report,
  startEmulator,
  tempDir,
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

const ENGINE = { readCheckpointEvery: 1000 };

/** runs `spec` and kills it once 10,000 records are read (checkpoints every 1,000 are in by then) */
async function killedWhileReading(spec: string, dir: string): Promise<void> {
  const run = await batchpipe(["run", spec, "--json"], {
    cwd: dir,
    engine: ENGINE,
    onEvent: (event, child) => {
      if (event.type === "read_progress" && (event.records as number) >= 10_000) child.kill("SIGKILL");
    },
  });
  expect(run.signal, run.stderr).toBe("SIGKILL");
}

function errorEvent(run: ChildRun): { code: string; message: string; hint: string } {
  const event = run.events.find((e) => e.type === "error");
  expect(event, run.stderr).toBeDefined();
  return event as unknown as { code: string; message: string; hint: string };
}

function resultIds(dir: string): Map<string, number> {
  return idCounts(readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")));
}

describe("read resume: the input files changed", () => {
  it("a folder gets a file that sorts before the cursor's: refused, naming it; one that sorts after is read", async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, "data"));
    writeDataset(dir, 30_000, { file: "data/b.jsonl", id: (i) => `b${i}` });
    const spec = writePipeline(dir, { baseUrl: emu.url, name: "resume-files-added", data: "data/" });
    await killedWhileReading(spec, dir);

    writeDataset(dir, 100, { file: "data/a.jsonl", id: (i) => `a${i}` });
    writeDataset(dir, 100, { file: "data/c.jsonl", id: (i) => `c${i}` });
    const refused = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: ENGINE });
    expect(refused.code, refused.stderr).toBe(1);
    const error = errorEvent(refused);
    expect(error.code).toBe("SOURCE_FAILED");
    expect(error.message).toContain(`sort before ${path.join(dir, "data", "b.jsonl")}`);
    expect(error.message).toContain(`${path.join(dir, "data", "a.jsonl")} is new`);
    expect(error.message).not.toContain("c.jsonl");
    expect(error.hint).toContain("batchpipe cancel");

    // without a.jsonl the run resumes and reads c.jsonl, added after the cursor's file
    fs.rmSync(path.join(dir, "data", "a.jsonl"));
    const resumed = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: ENGINE, timeoutMs: 90_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.events[0]).toMatchObject({ type: "run_started", resumed: true });
    expect(report(resumed)).toMatchObject({ read: 30_100, succeeded: 30_100, unaccounted: 0 });
    const ids = resultIds(dir);
    expect(ids.size).toBe(30_100);
    expect([...ids.values()].every((count) => count === 1)).toBe(true);
  }, 180_000);

  it("a file overwritten since the read stopped (same size, other records): refused, naming it; appended to, it resumes", async () => {
    const dir = tempDir();
    const data = writeDataset(dir, 30_000, { id: (i) => `o${i}` });
    const spec = writePipeline(dir, { baseUrl: emu.url, name: "resume-file-overwritten" });
    await killedWhileReading(spec, dir);

    const read = fs.readFileSync(data);
    writeDataset(dir, 30_000, { id: (i) => `n${i}` });
    expect(fs.statSync(data).size).toBe(read.length);
    const refused = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: ENGINE });
    expect(refused.code, refused.stderr).toBe(1);
    const error = errorEvent(refused);
    expect(error.code).toBe("SOURCE_FAILED");
    expect(error.message).toMatch(
      new RegExp(
        `^cannot resume: ${data} changed since it was read: its bytes before byte \\d+, where reading stopped, are not those read$`,
      ),
    );
    expect(error.hint).toContain("Restore the file as it was (adding to its end is fine)");

    // the file as it was, with records added at its end: the read resumes and reads them
    fs.writeFileSync(data, read);
    fs.appendFileSync(
      data,
      Array.from({ length: 100 }, (_, i) => `${JSON.stringify({ id: `p${i}`, text: "added" })}\n`).join(""),
    );
    const resumed = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: ENGINE, timeoutMs: 90_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.events[0]).toMatchObject({ type: "run_started", resumed: true });
    expect(report(resumed)).toMatchObject({ read: 30_100, succeeded: 30_100, unaccounted: 0 });
    const ids = resultIds(dir);
    expect(ids.size).toBe(30_100);
    expect([...ids.keys()].some((id) => id.startsWith("n"))).toBe(false);
  }, 180_000);

  it("a file before the cursor's that grew or went away: refused, naming it and its sizes", async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, "data"));
    writeDataset(dir, 100, { file: "data/a.jsonl", id: (i) => `a${i}` });
    writeDataset(dir, 100, { file: "data/b.jsonl", id: (i) => `b${i}` });
    writeDataset(dir, 30_000, { file: "data/c.jsonl", id: (i) => `c${i}` });
    const spec = writePipeline(dir, { baseUrl: emu.url, name: "resume-files-resized", data: "data/" });
    await killedWhileReading(spec, dir);

    const a = path.join(dir, "data", "a.jsonl");
    const size = fs.statSync(a).size;
    fs.appendFileSync(a, `${JSON.stringify({ id: "a101", text: "late" })}\n`);
    fs.rmSync(path.join(dir, "data", "b.jsonl"));
    const refused = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: ENGINE });
    expect(refused.code, refused.stderr).toBe(1);
    const error = errorEvent(refused);
    expect(error.code).toBe("SOURCE_FAILED");
    expect(error.message).toContain(`${a} was ${size} bytes when read, now ${fs.statSync(a).size}`);
    expect(error.message).toContain(`${path.join(dir, "data", "b.jsonl")} (read before) is gone`);
  }, 180_000);
});

// a source beside the spec: `count` records; at record `fail_at` it waits for `go` (the test writes it
// once a shard was submitted) and throws
const FAILING_SOURCE = `
import fs from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { defineSource, z } from "@batchpipe/core/plugin";

export default defineSource({
  name: "failing",
  options: z.strictObject({ count: z.number().int(), fail_at: z.number().int(), go: z.string(), marker: z.string() }),
  async *read({ options, resolvePath, checkpoint }) {
    const marker = resolvePath(options.marker);
    for (let i = typeof checkpoint === "number" ? checkpoint + 1 : 1; i <= options.count; i++) {
      if (i === options.fail_at && fs.existsSync(marker)) {
        for (let waited = 0; !fs.existsSync(resolvePath(options.go)); waited += 20) {
          if (waited > 60_000) throw new Error("no shard was submitted");
          await sleep(20);
        }
        fs.rmSync(marker);
        throw new Error("connection reset at record " + i);
      }
      yield { data: { id: "s" + i, text: "text " + i }, position: { file: "db", line: i }, cursor: i };
    }
  },
});
`;

describe("a source that fails after shards were submitted", () => {
  it("the hint says how many shards were submitted (not 'nothing was submitted'); the next run resumes", async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, "plugins"));
    fs.writeFileSync(path.join(dir, "plugins", "failing.ts"), FAILING_SOURCE);
    fs.writeFileSync(path.join(dir, "broken"), "");
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      name: "resume-source-failed-submitted",
      source: "  { use: ./plugins/failing.ts, count: 5000, fail_at: 4000, go: ./go, marker: ./broken }",
      batch: { max_requests: 500 },
    });
    const first = await batchpipe(["run", spec, "--json"], {
      cwd: dir,
      engine: ENGINE,
      onEvent: (event) => {
        if (event.type === "shard_submitted") fs.writeFileSync(path.join(dir, "go"), "");
      },
    });
    expect(first.code, first.stderr).toBe(1);
    const error = errorEvent(first);
    expect(error.message).toBe("source (failing) failed while reading: connection reset at record 4000");
    const sent =
      /^Fix the source and run again; reading resumes at record ([\d,]+) \((\d+) shards? \(([\d,]+) requests?\) read before it (was|were) already submitted and go(es)? on at the provider; the ([\d,]+) records before it are kept\)\.$/.exec(
        error.hint,
      );
    expect(sent, error.hint).not.toBeNull();
    expect(Number(sent![2])).toBeGreaterThanOrEqual(1);
    expect(Number(sent![3].replace(",", ""))).toBe(Number(sent![2]) * 500);
    expect(Number(sent![6].replace(",", ""))).toBe(Number(sent![1].replace(",", "")) - 1);

    const second = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: ENGINE, timeoutMs: 90_000 });
    expect(second.code, second.stderr).toBe(0);
    expect(report(second)).toMatchObject({ read: 5000, succeeded: 5000, unaccounted: 0 });
    const ids = resultIds(dir);
    expect(ids.size).toBe(5000);
    expect([...ids.values()].every((count) => count === 1)).toBe(true);
  }, 180_000);
});
