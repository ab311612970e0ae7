// `batchpipe try` prints each request as sent. Against Anthropic (the emulator in process, api:
// anthropic) it printed "request  POST /v1/chat/completions", the transform's default endpoint,
// which does not apply to Anthropic (the body goes to its Messages API): a Claude user was told
// batchpipe called OpenAI's endpoint. Now the line says the endpoint does not apply; OpenAI's runs
// still show the endpoint they call.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, tempDir } from "./support/harness.js";

function pipeline(dir: string, api: "openai" | "anthropic"): string {
  fs.writeFileSync(path.join(dir, "data.jsonl"), `${JSON.stringify({ id: "a", text: "hello" })}\n`);
  const model = api === "openai" ? "gpt-4o-mini" : "claude-haiku-4-5";
  const spec = path.join(dir, "pipeline.yaml");
  fs.writeFileSync(
    spec,
    [
      "version: 1",
      `name: try-${api}`,
      `provider: { use: emulator, api: ${api}, emulator: { timeScale: 3600 } }`,
      "source: { use: jsonl, path: ./data.jsonl }",
      "transform:",
      '  id: "{{ id }}"',
      `  body: { model: ${model}, max_tokens: 20, messages: [{ role: user, content: "{{ text }}" }] }`,
      "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
      "",
    ].join("\n"),
  );
  return spec;
}

describe("try shows where a request goes", () => {
  it("anthropic: no OpenAI endpoint is shown", async () => {
    const dir = tempDir();
    const run = await batchpipe(["try", pipeline(dir, "anthropic"), "-n", "1"], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toContain("/v1/chat/completions");
    expect(run.stdout).toMatch(
      /^request {2}to the provider's live API \(the transform's endpoint does not apply\)$/m,
    );
    expect(run.stdout).toMatch(/^answer {3}✔ /m);
  });

  it("openai: the endpoint called", async () => {
    const dir = tempDir();
    const run = await batchpipe(["try", pipeline(dir, "openai"), "-n", "1"], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^request {2}POST \/v1\/chat\/completions$/m);
  });
});
