/**
 * Cut answers beyond chat: the Responses API's incomplete answers and completions' "length" (the
 * emulator honours max_output_tokens and max_tokens as the API does), a cut JSON answer (a failure
 * that says why), `batchpipe try`, and how each provider reads a content filter's stop.
 */
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import anthropic from "@batchpipe/provider-anthropic";
import openai from "@batchpipe/provider-openai";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderReport } from "../src/commands/run-output.js";
import { cli, readJsonl, startEmulator, tempDir } from "./support/harness.js";

const LONG = "the box was big and the product was fine, the delivery was quick enough";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu?.close();
});

function writeSpec(dir: string, o: { endpoint: string; body: string[]; name: string }): void {
  fs.writeFileSync(
    path.join(dir, "data.jsonl"),
    [1, 2, 3, 4].map((i) => `${JSON.stringify({ id: `r${i}`, text: i % 2 ? LONG : "fine" })}\n`).join(""),
  );
  const yaml = [
    "version: 1",
    `name: ${o.name}`,
    `provider: { use: openai, base_url: "${emu.url}" }`,
    "source: { use: jsonl, path: ./data.jsonl }",
    "transform:",
    `  endpoint: ${o.endpoint}`,
    '  id: "{{ id }}"',
    "  body:",
    "    model: gpt-4o-mini",
    ...o.body.map((l) => `    ${l}`),
    "batch: { poll_interval: 50ms }",
    "sinks: [{ use: jsonl, path: ./out/results.jsonl, fields: all }]",
    "errors: [{ use: jsonl, path: ./out/errors.jsonl }]",
  ];
  fs.writeFileSync(path.join(dir, "pipeline.yaml"), `${yaml.join("\n")}\n`);
}

const env = { OPENAI_API_KEY: "sk-test" };
const reportLines = (stdout: string) => stdout.split("\n").filter((l) => l.startsWith("⚠"));

describe("answers cut short on other endpoints", () => {
  it("/v1/responses past max_output_tokens: status incomplete, the partial text delivered and counted", async () => {
    const dir = tempDir("bp-cut-resp-");
    writeSpec(dir, {
      name: "cut-responses",
      endpoint: "/v1/responses",
      body: ["max_output_tokens: 16", 'input: "{{ text }}"'],
    });
    const run = await cli(["run", "pipeline.yaml"], { cwd: dir, env });
    expect(run.code, run.stderr).toBe(0);
    expect(reportLines(run.stdout)).toMatchInlineSnapshot(`
      [
        "⚠ 2 of 4 answers were cut short at max_tokens: their rows hold partial output (raise max_tokens, max_completion_tokens or max_output_tokens in the transform's body, and run again)",
      ]
    `);
    const rows = readJsonl<{ id: string; output: string; response: Record<string, unknown> }>(
      path.join(dir, "out/results.jsonl"),
    ).sort((a, b) => a.id.localeCompare(b.id));
    expect(rows.map((r) => [r.id, r.response.status, r.output])).toEqual([
      ["r1", "incomplete", LONG.slice(0, 64)],
      ["r2", "completed", "fine"],
      ["r3", "incomplete", LONG.slice(0, 64)],
      ["r4", "completed", "fine"],
    ]);
    expect(rows[0]!.response.incomplete_details).toEqual({ reason: "max_output_tokens" });
  });

  it("/v1/completions past max_tokens: finish_reason length", async () => {
    const dir = tempDir("bp-cut-cmpl-");
    writeSpec(dir, {
      name: "cut-completions",
      endpoint: "/v1/completions",
      body: ["max_tokens: 4", 'prompt: "{{ text }}"'],
    });
    const run = await cli(["run", "pipeline.yaml", "--json"], { cwd: dir, env });
    expect(run.code, run.stderr).toBe(0);
    const finished = run.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .find((e) => e.type === "run_finished");
    expect(finished.report).toMatchObject({ succeeded: 4, cut: 2, cutByReason: { max_tokens: 2 } });
    const rows = readJsonl<{ output: string; response: { choices: { finish_reason: string }[] } }>(
      path.join(dir, "out/results.jsonl"),
    );
    expect(rows.map((r) => r.response.choices[0]!.finish_reason).sort()).toEqual([
      "length",
      "length",
      "stop",
      "stop",
    ]);
  });

  it("a JSON answer cut short fails as invalid_json_output, saying it was cut and what to raise", async () => {
    const dir = tempDir("bp-cut-json-");
    writeSpec(dir, {
      name: "cut-json",
      endpoint: "/v1/chat/completions",
      body: [
        "max_tokens: 8",
        "response_format: { type: json_object }",
        'messages: [{ role: user, content: "{{ text }}" }]',
      ],
    });
    const run = await cli(["run", "pipeline.yaml"], { cwd: dir, env });
    expect(run.code, run.stderr).toBe(3);
    const errors = readJsonl<{ id: string; error: { code: string; message: string } }>(
      path.join(dir, "out/errors.jsonl"),
    ).sort((a, b) => a.id.localeCompare(b.id));
    expect(errors.map((e) => e.id)).toEqual(["r1", "r3"]);
    expect(errors[0]!.error).toMatchObject({ code: "invalid_json_output" });
    expect(errors[0]!.error.message).toMatchInlineSnapshot(
      `"the model's output is not valid JSON (the answer was cut short at max_tokens: raise it): Unterminated string in JSON at position 32"`,
    );
  });

  it("batchpipe try shows that an answer was cut", async () => {
    const dir = tempDir("bp-cut-try-");
    writeSpec(dir, {
      name: "cut-try",
      endpoint: "/v1/chat/completions",
      body: ["max_tokens: 5", 'messages: [{ role: user, content: "{{ text }}" }]'],
    });
    const tried = await cli(["try", "pipeline.yaml", "-n", "1"], { cwd: dir, env });
    expect(tried.code, tried.stderr).toBe(0);
    expect(tried.stdout).toContain(
      `  ${LONG.slice(0, 20)}\n  ⚠ cut short at max_tokens: the output above is partial (raise max_tokens in the transform's body)\n`,
    );
  });
});

describe("cut counts in watch mode and in states of older versions", () => {
  it("batchpipe watch --once says how many of a run's answers were cut", async () => {
    const dir = tempDir("bp-cut-watch-");
    writeSpec(dir, {
      name: "cut-watch",
      endpoint: "/v1/chat/completions",
      body: ["max_tokens: 5", 'messages: [{ role: user, content: "{{ text }}" }]'],
    });
    fs.mkdirSync(path.join(dir, "inbox"));
    fs.renameSync(path.join(dir, "data.jsonl"), path.join(dir, "inbox/a.jsonl"));
    const spec = path.join(dir, "pipeline.yaml");
    fs.writeFileSync(spec, fs.readFileSync(spec, "utf8").replace("./data.jsonl", "./inbox/"));
    const watched = await cli(["watch", "pipeline.yaml", "--once", "--settle", "100ms"], { cwd: dir, env });
    expect(watched.code, watched.stderr).toBe(0);
    expect(`${watched.stdout}${watched.stderr}`).toMatch(
      /■ run r1-\S+ completed: 4 succeeded \(2 cut short at max_tokens: partial output\), 0 failed, 1 batch\(es\)/,
    );
  });

  it("a run recorded without cut counts (an older version) reads as none cut", async () => {
    const dir = tempDir("bp-cut-old-");
    writeSpec(dir, {
      name: "cut-old",
      endpoint: "/v1/chat/completions",
      body: ["max_tokens: 5", 'messages: [{ role: user, content: "{{ text }}" }]'],
    });
    expect((await cli(["run", "pipeline.yaml"], { cwd: dir, env })).code).toBe(0);
    const db = new Database(path.join(dir, ".batchpipe/cut-old/state.db"));
    const { counters } = db.prepare("SELECT counters FROM runs").get() as { counters: string };
    const { cutByReason, ...older } = JSON.parse(counters);
    expect(cutByReason).toEqual({ max_tokens: 2 });
    db.prepare("UPDATE runs SET counters = ?").run(JSON.stringify(older));
    db.close();
    const status = await cli(["status", "pipeline.yaml", "--json"], { cwd: dir, env });
    expect(JSON.parse(status.stdout).run.counters).toMatchObject({ succeeded: 4, cutByReason: {} });
    const text = await cli(["status", "pipeline.yaml"], { cwd: dir, env });
    expect(text.stdout).toContain("· ok 4 · failed 0 ·");
  });
});

describe("how the providers read a stop before the answer's end", () => {
  const chat = { endpoint: "/v1/chat/completions", json: false };
  const choice = (finish_reason: string) => ({
    choices: [{ index: 0, message: { role: "assistant", content: "Sure, th" }, finish_reason }],
  });

  it("openai: finish_reason length and content_filter, an incomplete response; stop is whole", () => {
    expect(openai.output(choice("length"), chat)).toEqual({
      ok: true,
      output: "Sure, th",
      cut: "max_tokens",
    });
    expect(openai.output(choice("content_filter"), chat)).toEqual({
      ok: true,
      output: "Sure, th",
      cut: "content_filter",
    });
    expect(openai.output(choice("stop"), chat)).toEqual({ ok: true, output: "Sure, th" });
    const incomplete = (reason: string) => ({
      status: "incomplete",
      incomplete_details: { reason },
      output_text: "Sure",
    });
    const responses = { endpoint: "/v1/responses", json: false };
    expect(openai.output(incomplete("content_filter"), responses)).toMatchObject({ cut: "content_filter" });
    expect(openai.output(incomplete("max_output_tokens"), responses)).toMatchObject({ cut: "max_tokens" });
    expect(openai.output({ status: "completed", output_text: "Sure" }, responses)).toEqual({
      ok: true,
      output: "Sure",
    });
  });

  it("anthropic: stop_reason max_tokens and refusal; end_turn is whole", () => {
    const message = (stop_reason: string) => ({ content: [{ type: "text", text: "Sure" }], stop_reason });
    const req = { endpoint: "", json: false };
    expect(anthropic.output(message("max_tokens"), req)).toEqual({
      ok: true,
      output: "Sure",
      cut: "max_tokens",
    });
    expect(anthropic.output(message("refusal"), req)).toEqual({
      ok: true,
      output: "Sure",
      cut: "content_filter",
    });
    expect(anthropic.output(message("end_turn"), req)).toEqual({ ok: true, output: "Sure" });
  });

  it("the report says what a content filter's stop means", () => {
    const text = renderReport({
      run: "r1",
      name: "demo",
      status: "completed",
      read: 5,
      succeeded: 5,
      failed: 0,
      failedByCode: {},
      retried: 0,
      unexpected: 0,
      missing: 0,
      unaccounted: 0,
      identical: 0,
      cached: 0,
      cachedRequests: 0,
      cachedSaved: 0,
      answeredLive: 0,
      cut: 3,
      cutByReason: { max_tokens: 1, content_filter: 2 },
      batches: 1,
      queueRefusals: 0,
      shards: 1,
      inputTokens: 10,
      outputTokens: 10,
      cost: 0.0001,
      estimatedCost: 0.0001,
      durationMs: 700,
    });
    expect(reportLines(text)).toMatchInlineSnapshot(`
      [
        "⚠ 1 of 5 answers was cut short at max_tokens: its row holds partial output (raise max_tokens, max_completion_tokens or max_output_tokens in the transform's body, and run again)",
        "⚠ 2 of 5 answers were stopped by the provider's content filter: their rows hold partial output or none",
      ]
    `);
  });
});
