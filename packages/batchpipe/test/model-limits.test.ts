// Requests over their model's limits (packages/core/src/estimate/limits.ts): a 1.3M-token prompt
// to gpt-4o-mini (context window 128,000) and max_tokens 100,000 (its output limit is 16,384)
// passed plan and run and were sent, to be failed by the provider. They now fail as records
// before anything is sent (context_length_exceeded, max_tokens_too_large) and plan counts them; a
// request whose estimated input is over the window but may fit (the estimate may be high) is sent,
// and plan names it. A model the table does not know is not checked.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { env as anthropicEnv } from "./support/anthropic.js";
import { batchesOf, batchpipe, readJsonl, report, startEmulator, tempDir } from "./support/harness.js";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ models: ["gpt-*", "acme-*"] });
});
afterAll(async () => {
  await emu?.close();
});

const words = (n: number) => "word ".repeat(n);

/** four records: one that fits, ~1.5M estimated tokens, ~160K (over 128K, may fit), max_tokens 100,000 */
function writeRecords(dir: string): void {
  const rows = [
    { id: "fits", text: "hello", max: 100 },
    { id: "huge", text: words(1_300_000), max: 100 },
    { id: "near", text: words(140_000), max: 100 },
    { id: "big-answer", text: "hello", max: 100_000 },
  ];
  fs.writeFileSync(path.join(dir, "data.jsonl"), rows.map((r) => JSON.stringify(r)).join("\n"));
}

function writeSpec(
  dir: string,
  o: { name: string; model: string; provider?: string; extra?: string[] },
): string {
  const file = path.join(dir, "pipeline.yaml");
  fs.writeFileSync(
    file,
    [
      "version: 1",
      `name: ${o.name}`,
      o.provider ?? `provider: { use: openai, base_url: ${emu.url} }`,
      "source: { use: jsonl, path: ./data.jsonl }",
      "transform:",
      '  id: "{{ id }}"',
      "  body:",
      `    model: ${o.model}`,
      '    max_tokens: "{{ max }}"',
      '    messages: [{ role: user, content: "{{ text }}" }]',
      "batch: { poll_interval: 50ms }",
      "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
      "errors: [{ use: jsonl, path: ./out/errors.jsonl }]",
      ...(o.extra ?? []),
      "",
    ].join("\n"),
  );
  return file;
}

type ErrorRow = { id: string; error: { code: string; message: string; status_code: number | null } };

describe("requests over their model's context window or output limit", () => {
  it("plan counts those that cannot fit as failures and names those that may not", async () => {
    const dir = tempDir();
    writeRecords(dir);
    const spec = writeSpec(dir, { name: "limits-plan", model: "gpt-4o-mini" });
    const plan = await batchpipe(["plan", spec], { cwd: dir });
    expect(plan.code, plan.stderr).toBe(0);
    const head = plan.stdout.split("\n\n")[0]!.replace(/~\d+ input/g, "~N input");
    expect(head).toMatchInlineSnapshot(`
      "plan for limits-plan: 4 records → 2 requests in 1 shard
        ✖ 1 record fails before sending: context_length_exceeded
            huge: ~N input tokens (estimated) + 100 max_tokens cannot fit gpt-4o-mini's context window of 128000, even were the estimate twice too high: shorten the input, lower max_tokens or pick a model with a larger context window
            The prompt plus max_tokens is over the model's context window; shorten the input or lower max_tokens.
        ✖ 1 record fails before sending: max_tokens_too_large
            big-answer: max_tokens 100000 is over gpt-4o-mini's output limit of 16384: lower it to 16384 or less, or pick a model with a higher output limit
            The request's max_tokens (or max_completion_tokens, max_output_tokens) is over its model's output limit; lower it, or pick a model with a higher output limit (model_limits: in the spec for a model batchpipe does not know).
        ⚠ 1 request may not fit its model's context window (the input is an estimate: sent anyway; the provider fails what does not fit):
            near: ~N input tokens (estimated) + 100 max_tokens against gpt-4o-mini's context window of 128000"
    `);
    const json = JSON.parse((await batchpipe(["plan", spec, "--json"], { cwd: dir })).stdout) as {
      failedByCode: Record<string, number>;
      mayNotFit: { count: number; first: { id: string }[] };
      totals: { requests: number; estimatedOutputTokens: number };
    };
    expect(json.failedByCode).toEqual({ context_length_exceeded: 1, max_tokens_too_large: 1 });
    expect(json.mayNotFit).toMatchObject({ count: 1, first: [{ id: "near" }] });
    // the 100,000 max_tokens no longer counts in the estimate (it was 100,200 output tokens)
    expect(json.totals).toMatchObject({ requests: 2, estimatedOutputTokens: 200 });
  });

  it("run fails them as records with the fix, and sends only the others", async () => {
    const dir = tempDir();
    writeRecords(dir);
    const spec = writeSpec(dir, { name: "limits-run", model: "gpt-4o-mini" });
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(run.code, run.stderr).toBe(3);
    expect(report(run)).toMatchObject({ read: 4, succeeded: 2, failed: 2 });
    // two requests sent, in one batch
    expect(batchesOf(emu, "limits-run").map((b) => b.request_counts.total)).toEqual([2]);
    const errors = readJsonl<ErrorRow>(path.join(dir, "out/errors.jsonl")).sort((a, b) =>
      a.id.localeCompare(b.id),
    );
    expect(
      errors.map((e) => ({ ...e.error, message: e.error.message.replace(/~\d+/, "~N") })),
    ).toMatchInlineSnapshot(`
      [
        {
          "code": "max_tokens_too_large",
          "message": "max_tokens 100000 is over gpt-4o-mini's output limit of 16384: lower it to 16384 or less, or pick a model with a higher output limit",
          "status_code": null,
        },
        {
          "code": "context_length_exceeded",
          "message": "~N input tokens (estimated) + 100 max_tokens cannot fit gpt-4o-mini's context window of 128000, even were the estimate twice too high: shorten the input, lower max_tokens or pick a model with a larger context window",
          "status_code": null,
        },
      ]
    `);
    expect(errors.map((e) => e.id)).toEqual(["big-answer", "huge"]);
  });

  it("a dated snapshot is checked as its model; a model the table does not know is not checked", async () => {
    const snapshot = tempDir();
    writeRecords(snapshot);
    const dated = writeSpec(snapshot, { name: "limits-snapshot", model: "gpt-4o-mini-2024-07-18" });
    const plan = JSON.parse((await batchpipe(["plan", dated, "--json"], { cwd: snapshot })).stdout);
    expect(plan.failedByCode).toEqual({ context_length_exceeded: 1, max_tokens_too_large: 1 });

    const unknown = tempDir();
    writeRecords(unknown);
    const spec = writeSpec(unknown, { name: "limits-unknown", model: "acme-large" });
    const json = JSON.parse((await batchpipe(["plan", spec, "--json"], { cwd: unknown })).stdout);
    expect(json.failedByCode).toEqual({});
    expect(json.mayNotFit).toEqual({ count: 0, first: [] });
    expect(json.totals.requests).toBe(4);
  });

  it("the spec's model_limits: states a custom model's limits, or overrides the table's", async () => {
    const dir = tempDir();
    writeRecords(dir);
    const spec = writeSpec(dir, {
      name: "limits-custom",
      model: "acme-large",
      extra: ["model_limits:", "  acme-large: { context_window: 8192, max_output_tokens: 1024 }"],
    });
    const json = JSON.parse((await batchpipe(["plan", spec, "--json"], { cwd: dir })).stdout);
    // "near" (~150K estimated tokens) is far over 8,192 too
    expect(json.failedByCode).toEqual({ context_length_exceeded: 2, max_tokens_too_large: 1 });
    expect(json.totals.requests).toBe(1);

    const wider = writeSpec(dir, {
      name: "limits-override",
      model: "gpt-4o-mini",
      extra: ["model_limits:", "  gpt-4o-mini: { context_window: 2000000, max_output_tokens: 100000 }"],
    });
    const over = JSON.parse((await batchpipe(["plan", wider, "--json"], { cwd: dir })).stdout);
    expect(over.failedByCode).toEqual({});
    expect(over.mayNotFit.count).toBe(0);
  });

  it("gpt-5: the input alone has a limit (272,000 of its 400,000)", async () => {
    const dir = tempDir();
    fs.writeFileSync(
      path.join(dir, "data.jsonl"),
      [
        { id: "short", text: "hello", max: 1000 },
        { id: "over", text: words(600_000), max: 1000 },
        { id: "close", text: words(300_000), max: 1000 },
      ]
        .map((r) => JSON.stringify(r))
        .join("\n"),
    );
    const spec = writeSpec(dir, { name: "limits-gpt5", model: "gpt-5-mini" });
    const json = JSON.parse((await batchpipe(["plan", spec, "--json"], { cwd: dir })).stdout) as {
      failedByCode: Record<string, number>;
      mayNotFit: { first: { id: string; message: string }[] };
    };
    expect(json.failedByCode).toEqual({ context_length_exceeded: 1 });
    expect(json.mayNotFit.first.map((f) => [f.id, f.message.replace(/~\d+/, "~N")])).toEqual([
      ["close", "~N input tokens (estimated) against gpt-5-mini's input limit of 272000"],
    ]);
  });

  it("validate: a max_tokens over the model's output limit is shown at its place in the spec", async () => {
    const dir = tempDir();
    writeRecords(dir);
    const spec = writeSpec(dir, { name: "limits-validate", model: "gpt-4o" });
    fs.writeFileSync(spec, fs.readFileSync(spec, "utf8").replace('"{{ max }}"', "20000"));
    const bad = await batchpipe(["validate", spec], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr.replaceAll(dir, "<dir>")).toMatchInlineSnapshot(`
      "pipeline.yaml:9:17 transform.body.max_tokens: max_tokens 20000 is over gpt-4o's output limit of 16384: lower it to 16384 or less, or pick a model with a higher output limit (the first record, data.jsonl:1, asks for it: the others probably do too)
         7 |   body:
         8 |     model: gpt-4o
      >  9 |     max_tokens: 20000
           |                 ^^^^^
        10 |     messages: [{ role: user, content: "{{ text }}" }]
        11 | batch: { poll_interval: 50ms }

      ✖ pipeline.yaml has a problem (SPEC_INVALID)
      "
    `);
    // within the limit: valid
    fs.writeFileSync(spec, fs.readFileSync(spec, "utf8").replace("20000", "16384"));
    expect((await batchpipe(["validate", spec], { cwd: dir })).code).toBe(0);
  });

  it("try does not send them either: each is shown as not sent, with the fix", async () => {
    const dir = tempDir();
    writeRecords(dir);
    const spec = writeSpec(dir, {
      name: "limits-try",
      model: "gpt-4o-mini",
      provider: "provider: { use: emulator }",
    });
    const run = await batchpipe(["try", spec, "-n", "4"], { cwd: dir });
    expect(run.code, run.stderr).toBe(3);
    const notSent = run.stdout
      .split("\n")
      .filter((l) => l.startsWith("not sent"))
      .map((l) => l.replace(/~\d+/, "~N"));
    expect(notSent).toMatchInlineSnapshot(`
      [
        "not sent: ~N input tokens (estimated) + 100 max_tokens cannot fit gpt-4o-mini's context window of 128000, even were the estimate twice too high: shorten the input, lower max_tokens or pick a model with a larger context window (context_length_exceeded)",
        "not sent: max_tokens 100000 is over gpt-4o-mini's output limit of 16384: lower it to 16384 or less, or pick a model with a higher output limit (max_tokens_too_large)",
      ]
    `);
  });

  it("Claude: max_tokens over the output limit fails; models that stop at the window check the input alone; a PDF is never failed on its estimate", async () => {
    const dir = tempDir();
    const pdf = {
      type: "document",
      source: {
        type: "base64",
        media_type: "application/pdf",
        data: randomBytes(3_000_000).toString("base64"),
      },
    };
    fs.writeFileSync(
      path.join(dir, "data.jsonl"),
      [
        // claude-3-5-haiku answers at most 8,192 tokens
        { id: "haiku-10k", model: "claude-3-5-haiku-20241022", max: 10_000, text: "hello" },
        { id: "haiku-8k", model: "claude-3-5-haiku-latest", max: 8_192, text: "hello" },
        // input + max_tokens over the 200K window: refused by Claude 3 Haiku; Haiku 4.5's answer
        // would stop at the window (~150K of input fits it)
        { id: "old-window", model: "claude-3-haiku", max: 4_000, text: words(230_000) },
        { id: "new-window", model: "claude-haiku-4-5", max: 64_000, text: words(150_000) },
        // a 3 MB PDF (~2.2M tokens if its base64 were text; Claude counts its pages): sent, named
        { id: "pdf", model: "claude-3-5-haiku", max: 100, text: [pdf] },
      ]
        .map((r) => JSON.stringify(r))
        .join("\n"),
    );
    const spec = writeSpec(dir, {
      name: "limits-claude",
      model: '"{{ model }}"',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
      provider: 'provider: { use: anthropic, api_key: "${ANTHROPIC_API_KEY}" }',
    });
    const plan = await batchpipe(["plan", spec, "--json"], { cwd: dir, env: anthropicEnv });
    expect(plan.code, plan.stderr).toBe(0);
    const json = JSON.parse(plan.stdout) as {
      failedByCode: Record<string, number>;
      mayNotFit: { first: { id: string; message: string }[] };
    };
    expect(json.failedByCode).toEqual({ max_tokens_too_large: 1 });
    expect(json.mayNotFit.first.map((f) => f.id)).toEqual(["old-window", "pdf"]);
  });
});
