// An outage of the live API past batch.deadline is an outage, not the records' failure. The
// calls that got no answer at all (the SDK's own retries spent) were written as connection_error
// failures: with max_attempts 1 the run "finished with 8 failed requests" (exit 3), and with more
// attempts an outage of a few minutes failed every record (120 of 120 against the emulator). Now
// the shard's unanswered requests wait (backing off as for any provider call, up to
// batch.max_outage, then the run stops with its state saved) and are sent again once the API
// answers: every record succeeds, none is paid twice. Both dialects.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  readJsonl,
  startEmulatorProcess,
  tempDir,
  writeDataset,
} from "./support/harness.js";

let emulator: EmulatorProcess;
beforeAll(async () => {
  emulator = await startEmulatorProcess({
    timeScale: 1,
    latencies: { linesPerSecond: 0.001, validation: 0.05 },
  });
});
afterAll(async () => {
  await emulator?.close();
});

const N = 30;
const ids = Array.from({ length: N }, (_, i) => `rec-${i + 1}`);
const ROUTE = { openai: "POST /v1/chat/completions", anthropic: "POST /v1/messages" } as const;

function pipeline(dir: string, dialect: "openai" | "anthropic"): string {
  const provider =
    dialect === "openai"
      ? ["  use: openai", `  base_url: ${emulator.url}`]
      : ["  use: anthropic", `  base_url: ${emulator.origin}`];
  const model = dialect === "openai" ? "gpt-4o-mini" : "claude-haiku-4-5";
  const spec = path.join(dir, "pipeline.yaml");
  fs.writeFileSync(
    spec,
    [
      "version: 1",
      `name: outage-${dialect}`,
      "provider:",
      ...provider,
      "source: { use: jsonl, path: ./data.jsonl }",
      "transform:",
      '  id: "{{ id }}"',
      `  body: { model: ${model}, max_tokens: 16, messages: [{ role: user, content: "Say: {{ text }}" }] }`,
      // the deadline passes before any batch is created: every request goes live, once (max_attempts 1)
      "batch: { max_requests: 30, poll_interval: 50ms, deadline: 1ms, max_attempts: 1 }",
      "sinks:",
      "  - { use: jsonl, path: ./out/results.jsonl }",
      "errors:",
      "  - { use: jsonl, path: ./out/errors.jsonl }",
      "",
    ].join("\n"),
  );
  return spec;
}

describe.each(["openai", "anthropic"] as const)("the live API down past batch.deadline (%s)", (dialect) => {
  it("the unanswered requests wait for it and are sent again: every record succeeds", async () => {
    const dir = tempDir();
    writeDataset(dir, N);
    const route = ROUTE[dialect];
    const before = (await emulator.state()).calls[route] ?? 0;
    // the first 40 live calls get no answer: 8 calls in flight, each with the SDK's 4 retries
    const calls = Array.from({ length: 40 }, (_, i) => before + i + 1);
    await emulator.configure({ faults: [{ route, calls, kind: "reset" }] });
    const run = await batchpipe(["run", pipeline(dir, dialect), "--json"], {
      cwd: dir,
      env: { OPENAI_API_KEY: "sk-test", ANTHROPIC_API_KEY: "sk-ant-test" },
    });
    await emulator.configure({ faults: [] });
    expect(run.code, run.stderr).toBe(0);
    const rows = readJsonl<{ id: string; batch_id: string }>(path.join(dir, "out/results.jsonl"));
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(fs.readFileSync(path.join(dir, "out/errors.jsonl"), "utf8")).toBe("");
    // answered once each: the calls that got no answer, and one that did per request
    expect((await emulator.state()).calls[route]! - before).toBe(40 + N);
  }, 120_000);
});
