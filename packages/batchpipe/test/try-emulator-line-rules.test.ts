// `batchpipe try` against the emulator's line rules: the live request carries the record id in a
// field the API takes (`user`, Anthropic's `metadata.user_id`), so the rule that stops or fails a
// record in a batch does the same to it live. The real CLI, the `emulator` provider in its process.
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { batchpipe, tempDir } from "./support/harness.js";

const TEXT = "the box was big and the product was fine"; // 40 characters: 20 when stopped
const RULES =
  '[{ customIds: [r2], stop: content_filter }, { customIds: [r3], error: "context_length_exceeded" }]';

function pipeline(dir: string, api: "openai" | "anthropic"): string {
  fs.writeFileSync(
    path.join(dir, "data.jsonl"),
    ["r1", "r2", "r3"].map((id) => `${JSON.stringify({ id, text: TEXT })}\n`).join(""),
  );
  const body =
    api === "openai"
      ? ["model: gpt-4o-mini", 'user: "{{ id }}"']
      : ["model: claude-haiku-4-5", "max_tokens: 100", 'metadata: { user_id: "{{ id }}" }'];
  const lines = [
    "version: 1",
    `name: try-rules-${api}`,
    `provider: { use: emulator, api: ${api}, emulator: { lineRules: ${RULES} } }`,
    "source: { use: jsonl, path: ./data.jsonl }",
    "transform:",
    '  id: "{{ id }}"',
    "  body:",
    ...body.map((l) => `    ${l}`),
    '    messages: [{ role: user, content: "{{ text }}" }]',
    "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
  ];
  const spec = path.join(dir, "pipeline.yaml");
  fs.writeFileSync(spec, `${lines.join("\n")}\n`);
  return spec;
}

for (const api of ["openai", "anthropic"] as const) {
  it(`${api}: try answers r2 stopped by the filter and fails r3 as the rules say; r1 in full`, async () => {
    const dir = tempDir();
    const spec = pipeline(dir, api);
    const run = await batchpipe(["try", spec, "--ids", "r1,r2,r3", "--json"], { cwd: dir });
    expect(run.code, run.stderr).toBe(3);
    const items = run.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(items.map((i) => [i.id, i.result.kind, i.output?.cut ?? null, i.output?.output ?? null])).toEqual([
      ["r1", "success", null, TEXT],
      ["r2", "success", "content_filter", TEXT.slice(0, 20)],
      ["r3", "failure", null, null],
    ]);
    expect(items[2].result.error).toMatchObject(
      api === "openai"
        ? { code: "context_length_exceeded" }
        : { code: "invalid_request_error", message: expect.stringContaining("prompt is too long") },
    );
  });
}

it("the text report says which answer the filter stopped and which failed", async () => {
  const dir = tempDir();
  const spec = pipeline(dir, "openai");
  const run = await batchpipe(["try", spec, "--ids", "r2,r3"], { cwd: dir });
  expect(run.code, run.stderr).toBe(3);
  expect(run.stdout).toContain("  ⚠ stopped by the provider's content filter: the output above is partial");
  expect(run.stdout).toMatch(/answer {3}✖ .*maximum context length.* \(context_length_exceeded\)/);
  expect(run.stdout).toContain("2 records tried: 1 answered, 1 failed");
});
