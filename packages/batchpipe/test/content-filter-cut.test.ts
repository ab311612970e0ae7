/**
 * Answers a content filter stopped, end to end: the emulator stops the requests a line rule names
 * (`stop: content_filter`), the official `openai` provider reads finish_reason "content_filter"
 * (chat) and the Responses API's incomplete reason "content_filter", and the run counts them under
 * their reason beside those cut at max_tokens, in the report, --json and the rows. The real CLI,
 * the emulator over HTTP.
 */
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, expect, it } from "vitest";
import { batchpipe, cli, readJsonl, report, startEmulator, tempDir } from "./support/harness.js";

const LONG = "the box was big and the product was fine, the delivery was quick enough";
const TEXTS: Record<string, string> = {
  r1: LONG, // past max_tokens 8 (32 characters): cut at max_tokens
  r2: "a short review, stopped by the filter", // the filter's stop: its first half
  r3: "fine",
  r4: "fine too",
  r5: "stopped as well",
};

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ lineRules: [{ customIds: ["r2", "r5"], stop: "content_filter" }] });
});
afterAll(async () => {
  await emu?.close();
});

function writeSpec(dir: string, endpoint: string, body: string[]): void {
  fs.writeFileSync(
    path.join(dir, "data.jsonl"),
    Object.entries(TEXTS)
      .map(([id, text]) => `${JSON.stringify({ id, text })}\n`)
      .join(""),
  );
  const yaml = [
    "version: 1",
    "name: content-filter",
    `provider: { use: openai, base_url: "${emu.url}" }`,
    "source: { use: jsonl, path: ./data.jsonl }",
    "transform:",
    `  endpoint: ${endpoint}`,
    '  id: "{{ id }}"',
    "  body:",
    "    model: gpt-4o-mini",
    ...body.map((l) => `    ${l}`),
    "batch: { poll_interval: 50ms }",
    "sinks: [{ use: jsonl, path: ./out/results.jsonl, fields: all }]",
  ];
  fs.writeFileSync(path.join(dir, "pipeline.yaml"), `${yaml.join("\n")}\n`);
}

const rowsOf = (dir: string) =>
  readJsonl<{ id: string; output: string; response: { choices: { finish_reason: string }[] } }>(
    path.join(dir, "out/results.jsonl"),
  ).sort((a, b) => a.id.localeCompare(b.id));

it("chat: finish_reason content_filter is counted under its reason, beside max_tokens, and said", async () => {
  const dir = tempDir("bp-filter-chat-");
  writeSpec(dir, "/v1/chat/completions", [
    "max_tokens: 8",
    'messages: [{ role: user, content: "{{ text }}" }]',
  ]);
  const run = await cli(["run", "pipeline.yaml"], { cwd: dir, env: { OPENAI_API_KEY: "sk-test" } });
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout.split("\n").filter((l) => l.startsWith("⚠"))).toMatchInlineSnapshot(`
    [
      "⚠ 1 of 5 answers was cut short at max_tokens: its row holds partial output (raise max_tokens, max_completion_tokens or max_output_tokens in the transform's body, and run again)",
      "⚠ 2 of 5 answers were stopped by the provider's content filter: their rows hold partial output or none",
    ]
  `);
  expect(rowsOf(dir).map((r) => [r.id, r.response.choices[0].finish_reason, r.output])).toEqual([
    ["r1", "length", LONG.slice(0, 32)],
    ["r2", "content_filter", TEXTS.r2!.slice(0, 18)],
    ["r3", "stop", "fine"],
    ["r4", "stop", "fine too"],
    ["r5", "content_filter", TEXTS.r5!.slice(0, 7)],
  ]);
});

it("responses: incomplete for content_filter is counted under its reason in --json", async () => {
  const dir = tempDir("bp-filter-resp-");
  writeSpec(dir, "/v1/responses", ['input: "{{ text }}"']);
  const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
  expect(run.code, run.stderr).toBe(0);
  expect(report(run)).toMatchObject({ succeeded: 5, cut: 2, cutByReason: { content_filter: 2 } });
  const rows = rowsOf(dir);
  expect(rows[1]!.response).toMatchObject({
    status: "incomplete",
    incomplete_details: { reason: "content_filter" },
  });
  expect(rows[1]!.output).toBe(TEXTS.r2!.slice(0, 18));
});
