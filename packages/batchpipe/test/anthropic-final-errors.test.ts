// Anthropic answers a request naming a model it does not have with an `errored` result of type
// not_found_error. That was retried like an overload: a typo in the model name (claude-haiku-4.5
// for claude-haiku-4-5) made 9 batches for 3 shards (each up to 24 h at Anthropic) before every
// record failed after 3 attempts. A new attempt of the same request cannot fix it, nor a
// permission_error or request_too_large: they are final now, as invalid_request_error was, and as
// the live API's 404 already was.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, readJsonl, tempDir } from "./support/harness.js";

describe("Anthropic's errors a retry cannot fix", () => {
  it("a model Anthropic does not have fails each record once, in one batch per shard", async () => {
    const dir = tempDir();
    fs.writeFileSync(
      path.join(dir, "data.jsonl"),
      Array.from({ length: 6 }, (_, i) => `${JSON.stringify({ id: `r${i}`, text: `hello ${i}` })}\n`).join(
        "",
      ),
    );
    const spec = path.join(dir, "pipeline.yaml");
    fs.writeFileSync(
      spec,
      [
        "version: 1",
        "name: typo",
        "provider:",
        "  use: emulator",
        "  api: anthropic",
        '  emulator: { timeScale: 3600, anthropicModels: ["claude-haiku-4-5"] }',
        "source: { use: jsonl, path: ./data.jsonl }",
        "transform:",
        '  id: "{{ id }}"',
        '  body: { model: claude-haiku-4.5, max_tokens: 20, messages: [{ role: user, content: "{{ text }}" }] }',
        "batch: { max_requests: 2, poll_interval: 50ms }",
        "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
        "errors: [{ use: jsonl, path: ./out/errors.jsonl }]",
        "",
      ].join("\n"),
    );
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(run.code, run.stderr).toBe(3);
    const report = run.events.find((e) => e.type === "run_finished")?.report as Record<string, number>;
    expect(report).toMatchObject({ read: 6, succeeded: 0, failed: 6, retried: 0, batches: 3 });
    const errors = readJsonl<{ error: { code: string }; attempts: number }>(
      path.join(dir, "out/errors.jsonl"),
    );
    expect(errors.map((e) => [e.error.code, e.attempts])).toEqual(Array(6).fill(["not_found_error", 1]));
  });
});
