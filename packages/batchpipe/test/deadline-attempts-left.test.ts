// batch.deadline with batch.max_attempts 2 or 3: a request the deadline's cancel left undone never
// ran, so it spends no attempt (README, `deadline:`). Its row said so (attempts less the unspent
// one), but whether it could be tried again was judged on the shard's attempt, which counts the
// cancel: a live answer that failed (retryable) was final one attempt early (max_attempts 2: 30 of
// 30 failed after 1 attempt; 3: after 2). Both dialects.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  readJsonl,
  startEmulatorProcess,
  tempDir,
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

function pipeline(dir: string, dialect: "openai" | "anthropic", maxAttempts: number, ids: string[]): string {
  const provider =
    dialect === "openai"
      ? ["  use: openai", `  base_url: ${emulator.url}`]
      : ["  use: anthropic", `  base_url: ${emulator.origin}`];
  const model = dialect === "openai" ? "gpt-4o-mini" : "claude-haiku-4-5";
  // the live call carries the record's id, so the emulator's line rule counts its executions
  const idField = dialect === "openai" ? 'user: "{{ id }}"' : 'metadata: { user_id: "{{ id }}" }';
  fs.writeFileSync(
    path.join(dir, "data.jsonl"),
    ids.map((id) => `${JSON.stringify({ id, text: id })}\n`).join(""),
  );
  const spec = path.join(dir, "pipeline.yaml");
  fs.writeFileSync(
    spec,
    [
      "version: 1",
      `name: attempts-left-${dialect}-${maxAttempts}`,
      "provider:",
      ...provider,
      "source: { use: jsonl, path: ./data.jsonl }",
      "transform:",
      '  id: "{{ id }}"',
      `  body: { model: ${model}, max_tokens: 16, ${idField}, messages: [{ role: user, content: "Say: {{ text }}" }] }`,
      // one batch, created well before the deadline, cancelled by it
      `batch: { max_requests: 30, poll_interval: 50ms, deadline: 3s, max_attempts: ${maxAttempts} }`,
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

describe.each([
  ["openai", 2],
  ["openai", 3],
  ["anthropic", 2],
  ["anthropic", 3],
] as const)("batch.deadline (%s), max_attempts %i", (dialect, maxAttempts) => {
  it("a request the deadline's cancel left undone keeps every attempt: it goes live until max_attempts", async () => {
    const dir = tempDir();
    // the emulator counts a record's executions by its id, across the cases: ids of this case's own
    const ids = Array.from({ length: N }, (_, i) => `${dialect}-${maxAttempts}-${i + 1}`);
    // every live execution of a record fails until its last allowed attempt; the batch that the
    // deadline cancels ran none of them. 402 (Anthropic's billing_error): a failure both providers
    // call retryable, that neither retries within the call nor takes for an outage

    await emulator.configure({
      lineRules: [{ error: "server_error", status: 402, attempts: maxAttempts - 1, message: "try again" }],
    });
    const spec = pipeline(dir, dialect, maxAttempts, ids);
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir, env });
    const finished = run.events.find((e) => e.type === "run_finished");
    const errors = fs.existsSync(path.join(dir, "out/errors.jsonl"))
      ? readJsonl<{ id: string; attempts: number; error: { code: string } }>(
          path.join(dir, "out/errors.jsonl"),
        )
      : [];
    expect(
      errors.slice(0, 2).map((e) => ({ attempts: e.attempts, code: e.error.code })),
      JSON.stringify(finished),
    ).toEqual([]);
    expect(run.code).toBe(0);
    const warning = run.events.find(
      (e) => e.type === "warning" && String(e.message).includes("passed batch.deadline"),
    );
    expect(warning?.message).toMatch(/1 open batch cancelled/);
    expect(finished?.report).toMatchObject({ read: N, succeeded: N, failed: 0, batches: 1 });
    const rows = readJsonl<{ id: string; batch_id: string; attempts: number }>(
      path.join(dir, "out/results.jsonl"),
    );
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(rows.every((r) => r.batch_id === "live")).toBe(true);
    // the cancelled batch ran none: every attempt counted was a live call
    expect(rows.map((r) => r.attempts)).toEqual(Array(N).fill(maxAttempts));
  }, 60_000);
});
