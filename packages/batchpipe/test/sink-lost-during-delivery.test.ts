// A sink whose server went away during a delivery: the engine reopens its sinks at their checkpoint
// after a failed delivery, and that reopen failed too (the server still down), so the run ended on
// "connect ECONNREFUSED", not on what had gone wrong ("Connection terminated unexpectedly" in the
// write), as a tester saw restarting PostgreSQL during a delivery. The first failure is the one
// reported now; once the server is back, a run delivers every id once.
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  expectEachOnce,
  FIXTURES,
  records,
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

describe("a sink lost during a delivery", () => {
  it("the run ends on the write's error, not on the reopen's; the next run delivers the rest once", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(100));
    fs.writeFileSync(path.join(dir, "broken"), "");
    const sink = path.join(FIXTURES, "plugins/dropping-sink.ts");
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      name: "dropping",
      sinks: [
        `- { use: ${sink}, path: ./out/results.jsonl, fail_marker: ./broken, down_marker: ./down, fail_after: 40 }`,
      ],
    });
    const first = await batchpipe(["run", spec], { cwd: dir, engine: { deliveryPartSize: 20 } });
    expect(first.code).toBe(1);
    expect(first.stderr).toContain("Connection terminated unexpectedly");
    expect(first.stderr).not.toContain("ECONNREFUSED");
    expect(first.stderr).toContain("PLUGIN_FAILED");

    // the server is back
    fs.rmSync(path.join(dir, "broken"));
    fs.rmSync(path.join(dir, "down"));
    const rest = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: { deliveryPartSize: 20 } });
    expect(rest.code, rest.stderr).toBe(0);
    expect(report(rest)).toMatchObject({ read: 100, succeeded: 100, unaccounted: 0 });
    expectEachOnce(path.join(dir, "out/results.jsonl"), 100);
  });
});
