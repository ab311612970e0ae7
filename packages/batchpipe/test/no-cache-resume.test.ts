// A run started with --no-cache and resumed with plain `batchpipe run` (what the resume hint says)
// keeps sending every request: the run remembers its --no-cache in its state. Before, the resumed
// read answered from the result cache what the user had asked to send again. Real CLI in a child
// process (SIGKILLed while it reads), the emulator over HTTP, the real state and cache files.
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  report,
  startBatchpipe,
  startEmulator,
  tempDir,
  waitFor,
  writePipeline,
} from "./support/harness.js";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu?.close();
});

// JSON lines with their line as cursor; after `hang_after` records, while `hang_marker` exists, it
// writes `reached` and waits (the run is then killed while it reads)
const HANGING_SOURCE = `
import fs from "node:fs";
import { defineSource, z } from "@batchpipe/core/plugin";

export default defineSource({
  name: "hanging",
  options: z.strictObject({ path: z.string(), hang_marker: z.string(), hang_after: z.number().int() }),
  async *read({ options, resolvePath, checkpoint }) {
    const lines = fs.readFileSync(resolvePath(options.path), "utf8").split("\\n").filter((l) => l !== "");
    for (let i = typeof checkpoint === "number" ? checkpoint : 0; i < lines.length; i++) {
      if (i === options.hang_after && fs.existsSync(resolvePath(options.hang_marker))) {
        fs.writeFileSync(resolvePath("reached"), "");
        await new Promise((resolve) => setTimeout(resolve, 600_000));
      }
      yield { data: JSON.parse(lines[i]), position: { file: "data.jsonl", line: i + 1 }, cursor: i + 1 };
    }
  },
});
`;

const ENGINE = { readCheckpointEvery: 100 };

describe("--no-cache on resume", () => {
  it("a --no-cache run killed while reading and resumed without the flag answers nothing from the cache", async () => {
    const dir = tempDir();
    let text = "";
    for (let i = 1; i <= 300; i++) text += `${JSON.stringify({ id: `r${i}`, text: `hello ${i}` })}\n`;
    fs.writeFileSync(path.join(dir, "data.jsonl"), text);
    fs.mkdirSync(path.join(dir, "plugins"));
    fs.writeFileSync(path.join(dir, "plugins", "hanging.ts"), HANGING_SOURCE);
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      name: "no-cache-resume",
      source: "  { use: ./plugins/hanging.ts, path: ./data.jsonl, hang_marker: ./hang, hang_after: 250 }",
      batch: { max_requests: 100 },
    });

    // the first run pays for all 300 and fills the cache
    const first = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: ENGINE });
    expect(first.code, first.stderr).toBe(0);
    expect(report(first)).toMatchObject({ succeeded: 300, cached: 0 });

    // the second asks for everything to be sent again, and is killed while it reads
    fs.writeFileSync(path.join(dir, "hang"), "");
    const killed = startBatchpipe(["run", spec, "--no-cache", "--json"], { cwd: dir, engine: ENGINE });
    await waitFor(() => fs.existsSync(path.join(dir, "reached")), 60_000, "the source to wait");
    killed.child.kill("SIGKILL");
    expect((await killed.done).signal).toBe("SIGKILL");
    fs.rmSync(path.join(dir, "hang"));

    // resumed as the hint says: plain `batchpipe run`
    const resumed = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: ENGINE });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.events[0]).toMatchObject({ type: "run_started", resumed: true });
    expect(report(resumed)).toMatchObject({ read: 300, succeeded: 300, cached: 0, cachedRequests: 0 });
    // and says why
    const warnings = resumed.events.filter((e) => e.type === "warning").map((e) => e.message);
    expect(warnings).toContainEqual(
      expect.stringMatching(/began with --no-cache: it goes on sending every request/),
    );
  });
});
