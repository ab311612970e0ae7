// A provider plugin whose output() is async: every paid result was taken for a failed one
// (`invalid_json_output` with no message, exit 3), the answers the batch paid for never delivered.
// Now the first result stops the run with PLUGIN_INVALID naming the provider and the fix; the batch
// stays collectable, so a run with the provider fixed delivers it.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  readJsonl,
  SENTIMENT,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writePipeline,
} from "./support/harness.js";

let emulator: EmulatorProcess;
beforeAll(async () => {
  emulator = await startEmulatorProcess({ timeScale: 3600 });
});
afterAll(async () => {
  await emulator?.close();
});

describe("a provider whose output() is async", () => {
  it("stops the run with PLUGIN_INVALID instead of failing the paid results; fixed, the run delivers them", async () => {
    const dir = tempDir();
    writeDataset(dir, 5);
    const spec = writePipeline(dir, { ...SENTIMENT, name: "async-output", baseUrl: emulator.url });
    const plain = fs.readFileSync(spec, "utf8");
    const plugin = path.join(import.meta.dirname, "fixtures/plugins/async-output-provider.mjs");
    fs.writeFileSync(spec, plain.replace("  use: openai", `  use: ${plugin}`));
    const run = await batchpipe(["run", spec], { cwd: dir });
    expect(run.stderr).toContain(
      "provider (async-output) broke the plugin contract: output() returned a Promise: it must return its result itself (PLUGIN_INVALID)",
    );
    expect(run.code).toBe(2);
    expect(
      fs.existsSync(path.join(dir, "out/errors.jsonl")) ? readJsonl(path.join(dir, "out/errors.jsonl")) : [],
    ).toEqual([]);
    // the provider fixed: the same batch delivered, nothing sent again
    fs.writeFileSync(spec, plain);
    const fixed = await batchpipe(["run", spec], { cwd: dir });
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(readJsonl(path.join(dir, "out/results.jsonl"))).toHaveLength(5);
    expect((await emulator.state()).batches).toHaveLength(1);
  }, 60_000);
});
