// Two runs given one jsonl output file at once (two pipelines, or one pipeline with two state
// folders): the second is refused before it reads or sends, instead of both writing the file at
// their own offsets over each other's rows while each said every request succeeded.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchesOf,
  batchpipe,
  CLI_BIN,
  childEnv,
  readJsonl,
  records,
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

describe("one jsonl output file, two runs at once", () => {
  it("the second run is refused (STATE_FAILED, nothing read or sent); once the first ended it runs", async () => {
    const root = tempDir("bp-shared-out-");
    const shared = path.join(root, "shared/results.jsonl");
    const sinks = [`- { use: jsonl, path: ${shared} }`];
    const one = path.join(root, "one");
    const two = path.join(root, "two");
    fs.mkdirSync(one);
    fs.mkdirSync(two);
    writePipeline(one, {
      baseUrl: emu.url,
      name: "shared-one",
      source: '  { use: jsonl, path: "-" }',
      sinks,
    });
    writeDataset(two, 40, { id: (i) => `two-${i}` });
    writePipeline(two, { baseUrl: emu.url, name: "shared-two", sinks });

    // the first run reads standard input, which the test holds open: it runs until the test ends it
    const first = spawn(process.execPath, [CLI_BIN, "run", "pipeline.yaml", "--json"], {
      cwd: one,
      env: childEnv(),
      stdio: "pipe",
    });
    let stdout = "";
    first.stdout.on("data", (d) => {
      stdout += d;
    });
    const firstDone = new Promise<number | null>((resolve) => first.once("close", resolve));
    first.stdin.write(records(30));
    await waitFor(() => stdout.includes('"type":"run_started"'), 30_000, "the first run to start");

    const second = await batchpipe(["run", "pipeline.yaml"], { cwd: two });
    // before the fix: exit 0 beside the first, the two writing over each other's rows
    expect(second.code).toBe(1);
    expect(second.stderr.replaceAll(root, "<root>")).toMatchInlineSnapshot(`
      "✖ another batchpipe run is writing <root>/shared/results.jsonl, the path of sinks[0] (jsonl): two runs writing one file at once overwrite each other's rows (STATE_FAILED)
        hint: Wait for that run to end, or give shared-two (or each state folder of it) an output path of its own.
      "
    `);
    // the same pipeline from another state folder is another run writing the file too
    const elsewhere = await batchpipe(["run", "pipeline.yaml", "--state-dir", path.join(root, "state-2")], {
      cwd: one,
    });
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toContain("another batchpipe run is writing");
    expect(batchesOf(emu, "shared-two")).toHaveLength(0);

    first.stdin.end(records(20, 31));
    expect(await firstDone).toBe(0);
    const firstIds = readJsonl<{ id: string }>(shared).map((r) => r.id);
    expect(firstIds).toHaveLength(50);
    expect(new Set(firstIds).size).toBe(50);

    // its lock went with it: the second pipeline now runs (a jsonl sink writes a fresh file per run)
    const again = await batchpipe(["run", "pipeline.yaml"], { cwd: two });
    expect(again.code, again.stderr).toBe(0);
    const secondIds = readJsonl<{ id: string }>(shared).map((r) => r.id);
    expect(secondIds.sort()).toEqual(Array.from({ length: 40 }, (_, i) => `two-${i + 1}`).sort());
  }, 120_000);
});
