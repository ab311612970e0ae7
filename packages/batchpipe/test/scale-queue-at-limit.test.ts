// batch.max_enqueued_tokens set to the provider's whole limit (10,000, the figure OpenAI's refusal
// names): shards are sealed at ~9,990 estimated tokens, which the provider counts its own way as
// ~10,500, so it refuses every one of them with nothing else in flight. The run stops
// (QUEUE_TOO_SMALL) after 5 refusals; its message says the shard is at the limit in batchpipe's
// estimate only, and the hint gives a figure with room instead of "sealed smaller" with none.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  startEmulatorProcess,
  tempDir,
  writePipeline,
} from "./support/harness.js";

let emu: EmulatorProcess | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

describe("max_enqueued_tokens at the provider's whole queue", () => {
  it("QUEUE_TOO_SMALL names the estimate against the limit and a setting below it", async () => {
    emu = await startEmulatorProcess({ timeScale: 1, queueLimits: { "gpt-4o-mini": 10_000 } });
    const dir = tempDir();
    let data = "";
    for (let i = 0; i < 1200; i++) {
      data += `${JSON.stringify({ id: `q${i}`, text: `review number ${i} was quite good overall, I think.` })}\n`;
    }
    fs.writeFileSync(path.join(dir, "data.jsonl"), data);
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      prompt: "{{ text }}",
      batch: { poll_interval: "50ms", max_enqueued_tokens: 10_000 },
    });
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir, timeoutMs: 90_000 });
    expect(run.code, run.stderr).toBe(1);
    const error = run.events.find((e) => e.type === "error") as {
      code: string;
      message: string;
      hint: string;
    };
    expect(error.code).toBe("QUEUE_TOO_SMALL");
    expect(error.message.replace(/~[\d,]+/g, "~N")).toMatchInlineSnapshot(
      `"shard 00001 (~N tokens) can never fit the queue of gpt-4o-mini: the provider refused it with nothing else of this run in flight, and it was refused 5 times in a row, each after a longer wait, at ~N of the 10,000 enqueued tokens it allows: the provider counts a shard's tokens its own way, which can come to more than batchpipe's estimate. Provider: Enqueued token limit reached for gpt-4o-mini in organization org-emulator. Limit: 10,000 enqueued tokens. Please try again once some in_progress batches have been completed."`,
    );
    expect(error.hint).toMatchInlineSnapshot(
      `"Set batch.max_enqueued_tokens (or batch.max_requests) below 10,000 (e.g. 9,000, leaving room for that count) so shards are sealed smaller, then \`batchpipe cancel\` this run and run again: requests that succeeded are answered from the result cache. (If other work of your organisation fills the queue, run again later: the run resumes.)"`,
    );
    expect((await emu.state()).counters.token_limit_exceeded).toBeGreaterThanOrEqual(5);
  }, 120_000);
});
