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
