/**
 * The failures page says what to do about each code: a record whose max_tokens is over its model's
 * output limit (max_tokens_too_large, failed before sending) got the generic "read the message"
 * hint. It gets the fix the CLI's message gives (lower it to the limit, or a model with a higher one).
 */
import fs from "node:fs";
import path from "node:path";
import { loadPipeline } from "@batchpipe/core";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, officialPlugins, startEmulator, tempDir } from "../../batchpipe/test/support/harness.js";
import { startViewServer, type ViewServer } from "../src/index.js";

let emulator: Emulator;
let server: ViewServer | undefined;

beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(async () => {
  await server?.close();
  await emulator?.close();
});

type Failures = { codes: { code: string; count: number; hint: string; examples: { output: string }[] }[] };

describe("the failures page's hints", () => {
  it("says what to do about max_tokens_too_large, as the CLI's message does", async () => {
    const dir = tempDir("bp-view-hints-");
    const rows = [
      { id: "fits", text: "hello", max: 20 },
      { id: "big-answer", text: "hello", max: 100_000 },
    ];
    fs.writeFileSync(path.join(dir, "data.jsonl"), rows.map((r) => JSON.stringify(r)).join("\n"));
    const spec = path.join(dir, "pipeline.yaml");
    fs.writeFileSync(
      spec,
      [
        "version: 1",
        "name: view-hints",
        `provider: { use: openai, base_url: ${emulator.url} }`,
        "source: { use: jsonl, path: ./data.jsonl }",
        "transform:",
        '  id: "{{ id }}"',
        '  body: { model: gpt-4o-mini, max_tokens: "{{ max }}", messages: [{ role: user, content: "{{ text }}" }] }',
        "batch: { poll_interval: 50ms }",
        "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
        "errors: [{ use: jsonl, path: ./out/errors.jsonl }]",
        "",
      ].join("\n"),
    );
    const run = await cli(["run", spec], { env: { OPENAI_API_KEY: "sk-test" } });
    expect(run.code).toBe(3);
    const pipeline = await loadPipeline(spec, {
      env: { OPENAI_API_KEY: "sk-test" },
      builtins: officialPlugins,
    });
    server = await startViewServer({ pipelines: [{ pipeline }] });
    const runs = (await (await fetch(new URL("/api/runs", server.url))).json()) as {
      pipelines: { key: string; runs: { id: string }[] }[];
    };
    const url = new URL("/api/failures", server.url);
    url.searchParams.set("pipeline", runs.pipelines[0]!.key);
    url.searchParams.set("run", runs.pipelines[0]!.runs[0]!.id);
    const failures = (await (await fetch(url)).json()) as Failures;
    expect(failures.codes.map((c) => [c.code, c.count])).toEqual([["max_tokens_too_large", 1]]);
    const [entry] = failures.codes;
    // the CLI's message for the record, and the page's hint beside it: the same fix
    expect(entry!.examples[0]!.output).toContain(
      "lower it to 16384 or less, or pick a model with a higher output limit",
    );
    expect(entry!.hint).toBe(
      "The request's max_tokens (or max_completion_tokens, max_output_tokens) is over its model's output limit; lower it, or pick a model with a higher output limit (model_limits: in the spec for a model batchpipe does not know).",
    );
  });
});
