// batch.deadline with batch.max_attempts 1: the requests of a batch the deadline cancelled failed as
// batch_cancelled (30 of 30, exit 3), where with max_attempts 2 they went live. A request the
// deadline's cancel left undone was never executed: it spends no attempt and goes live like the
// shards never submitted, and its row counts the one attempt that ran (it showed attempts 2).
// Both dialects (OpenAI reports the undone requests as missing lines, Anthropic as canceled results).
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
  // one line per 1,000 s: a batch never gets anywhere during the test
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
      `name: one-attempt-${dialect}`,
      "provider:",
      ...provider,
      "source: { use: jsonl, path: ./data.jsonl }",
      "transform:",
      '  id: "{{ id }}"',
      `  body: { model: ${model}, max_tokens: 16, messages: [{ role: user, content: "Say: {{ text }}" }] }`,
      // one batch, created well before the deadline, cancelled by it
      "batch: { max_requests: 30, poll_interval: 50ms, deadline: 3s, max_attempts: 1 }",
      "sinks:",
      "  - { use: jsonl, path: ./out/results.jsonl }",
      "errors:",
      "  - { use: jsonl, path: ./out/errors.jsonl }",
      "",
    ].join("\n"),
  );
  return spec;
}

const env = { OPENAI_API_KEY: "sk-test", ANTHROPIC_API_KEY: "sk-ant-test" };

describe.each(["openai", "anthropic"] as const)("batch.deadline with max_attempts 1 (%s)", (dialect) => {
  it("the batch the deadline cancels: its requests go live, every id succeeds once", async () => {
    const dir = tempDir();
    writeDataset(dir, N);
    const spec = pipeline(dir, dialect);
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir, env });
    const finished = run.events.find((e) => e.type === "run_finished");
    expect(run.code, JSON.stringify(finished)).toBe(0);
    const warning = run.events.find(
      (e) => e.type === "warning" && String(e.message).includes("passed batch.deadline"),
    );
    expect(warning?.message).toMatch(/1 open batch cancelled/);
    const report = finished?.report as Record<string, number>;
    expect(report).toMatchObject({ read: N, succeeded: N, failed: 0, batches: 1, answeredLive: N });
    const rows = readJsonl<{ id: string; batch_id: string; attempts: number }>(
      path.join(dir, "out/results.jsonl"),
    );
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(rows.every((r) => r.batch_id === "live")).toBe(true);
    // each request ran once, live: the cancelled batch never ran it
    expect(rows.map((r) => r.attempts)).toEqual(Array(N).fill(1));
    expect(
      fs.existsSync(path.join(dir, "out/errors.jsonl")) ? readJsonl(path.join(dir, "out/errors.jsonl")) : [],
    ).toEqual([]);
  }, 60_000);
});
