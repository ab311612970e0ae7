// The hint of a read that stopped says where reading resumes with its numbers grouped as the rest of
// the CLI's ("record 12,001", "the 12,000 records"): it said "record 12001" and "the 12000 records".
// Real CLI in a child process, a source plugin that throws after 12,345 records, the emulator over HTTP.
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchpipe, startEmulator, tempDir, writePipeline } from "./support/harness.js";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu?.close();
});

// `count` records; throws at record `fail_at` while `marker` exists
const FAILING_SOURCE = `
import fs from "node:fs";
import { defineSource, z } from "@batchpipe/core/plugin";

export default defineSource({
  name: "failing",
  options: z.strictObject({ count: z.number().int(), fail_at: z.number().int(), marker: z.string() }),
  async *read({ options, resolvePath, checkpoint }) {
    for (let i = typeof checkpoint === "number" ? checkpoint : 0; i < options.count; i++) {
      if (i === options.fail_at && fs.existsSync(resolvePath(options.marker))) throw new Error("connection reset");
      yield { data: { id: "r" + (i + 1), text: "hello " + i }, position: { file: "db", line: i + 1 }, cursor: i + 1 };
    }
  },
});
`;

describe("the resume hint of a read that stopped", () => {
  it("groups its thousands: reading resumes at record 12,001, the 12,000 records before it are kept", async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, "plugins"));
    fs.writeFileSync(path.join(dir, "plugins", "failing.ts"), FAILING_SOURCE);
    fs.writeFileSync(path.join(dir, "broken"), "");
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      name: "resume-hint-thousands",
      source: "  { use: ./plugins/failing.ts, count: 13000, fail_at: 12345, marker: ./broken }",
    });
    const run = await batchpipe(["run", spec], { cwd: dir, engine: { readCheckpointEvery: 1000 } });
    expect(run.code, run.stderr).toBe(1);
    const hint = run.stderr.split("\n").find((l) => l.startsWith("  hint:"));
    // what was submitted meanwhile (a shard of 6,250 requests, or nothing yet) depends on timing
    expect(hint).toMatch(
      /^ {2}hint: Fix the source and run again; reading resumes at record 12,001 \((.+); the 12,000 records before it are kept\)\.$/,
    );
  });
});
