/**
 * Why records failed, in the report: the first record of each failure code with its message and what
 * to do, most frequent code first, in the text report, `--json` and `plan`. Failures known before
 * sending (a template naming a field the records lack) and failures the provider answered (the
 * emulator's line rules) both. The real CLI, the emulator over HTTP.
 */
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchpipe, cli, report, startEmulator, tempDir } from "./support/harness.js";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({
    lineRules: [
      {
        customIds: ["r3", "r4"],
        error: "context_length_exceeded",
        message: "too long for the model",
      },
      { customIds: ["r5"], error: "model_not_found", message: "the model does not exist" },
    ],
  });
});
afterAll(async () => {
  await emu?.close();
});

/** records r1…r6; r6 lacks `text` */
function writeSpec(dir: string, o: { field: string }): string {
  const records = ["r1", "r2", "r3", "r4", "r5"].map((id) => ({ id, text: `review ${id}` }));
  fs.writeFileSync(
    path.join(dir, "data.jsonl"),
    [...records, { id: "r6", title: "no text" }].map((r) => `${JSON.stringify(r)}\n`).join(""),
  );
  const yaml = [
    "version: 1",
    "name: first-failures",
    `provider: { use: openai, base_url: "${emu.url}" }`,
    "source: { use: jsonl, path: ./data.jsonl }",
    "transform:",
    "  endpoint: /v1/chat/completions",
    '  id: "{{ id }}"',
    "  body:",
    "    model: gpt-4o-mini",
    "    max_tokens: 20",
    `    messages: [{ role: user, content: "{{ ${o.field} }}" }]`,
    "batch: { poll_interval: 50ms, max_attempts: 1 }",
    "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
    "errors: [{ use: jsonl, path: ./out/errors.jsonl }]",
  ];
  const file = path.join(dir, "pipeline.yaml");
  fs.writeFileSync(file, `${yaml.join("\n")}\n`);
  return file;
}

const env = { OPENAI_API_KEY: "sk-test" };
const whyLines = (stdout: string) => stdout.slice(stdout.indexOf("✖ why")).trimEnd().split("\n");

describe("the report says why records failed", () => {
  it("the first record of each code, the most frequent first, with what to do; --json carries them", async () => {
    const dir = tempDir("bp-first-failures-");
    writeSpec(dir, { field: "text" });
    const run = await cli(["run", "pipeline.yaml"], { cwd: dir, env });
    expect(run.code, run.stderr).toBe(3);
    expect(
      whyLines(run.stdout.replaceAll(dir, "<dir>").replace(/: r[34]: /, ": r3|r4: ")),
    ).toMatchInlineSnapshot(`
      [
        "✖ why they failed (the first record of each code):",
        "  context_length_exceeded (2): r3|r4: too long for the model",
        "    The prompt plus max_tokens is over the model's context window; shorten the input or lower max_tokens.",
        "  model_not_found (1): r5: the model does not exist",
        "    The provider does not know the model, or the key has no access to it; check body.model's spelling against the provider's model list.",
        "  template_error (1): r6: undefined variable "text" in body.messages[0].content (record at data.jsonl:6)",
        "    The prompt template needs a field this record lacks; add the field to the record or a default in the template ({{ x | default: '' }}). \`batchpipe validate\` shows the template's place in the spec.",
      ]
    `);

    const again = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir, env });
    expect(again.code, again.stderr).toBe(3);
    // the successes come from the cache; the failures were not cached, so they fail again
    expect(report(again)).toMatchObject({
      succeeded: 2,
      failed: 4,
      failedByCode: { context_length_exceeded: 2, model_not_found: 1, template_error: 1 },
      firstFailures: {
        // the first the provider's output file held: its lines come in any order
        context_length_exceeded: {
          id: expect.stringMatching(/^r[34]$/),
          message: expect.stringContaining("too long for the model"),
        },
        model_not_found: { id: "r5", message: expect.stringContaining("the model does not exist") },
        template_error: { id: "r6", message: expect.stringContaining('undefined variable "text"') },
      },
    });
  });

  it("a template every record fails: plan, the report and status name the field and the fix", async () => {
    const dir = tempDir("bp-first-failures-typo-");
    writeSpec(dir, { field: "txt" });
    const plan = await cli(["plan", "pipeline.yaml"], { cwd: dir, env });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout.split("\n\n")[0]!.replaceAll(dir, "<dir>")).toMatchInlineSnapshot(`
      "plan for first-failures: 6 records → nothing to send
        ✖ 6 records fail before sending: template_error
            the first, r1: undefined variable "txt" in body.messages[0].content (record at data.jsonl:1)
            The prompt template needs a field this record lacks; add the field to the record or a default in the template ({{ x | default: '' }}). \`batchpipe validate\` shows the template's place in the spec."
    `);

    const run = await cli(["run", "pipeline.yaml"], { cwd: dir, env });
    expect(run.code, run.stderr).toBe(3);
    expect(whyLines(run.stdout.replaceAll(dir, "<dir>"))).toMatchInlineSnapshot(`
      [
        "✖ why they failed (the first record of each code):",
        "  template_error (6): r1: undefined variable "txt" in body.messages[0].content (record at data.jsonl:1)",
        "    The prompt template needs a field this record lacks; add the field to the record or a default in the template ({{ x | default: '' }}). \`batchpipe validate\` shows the template's place in the spec.",
      ]
    `);
    // and `status` afterwards, from the run's saved counters
    const status = await cli(["status", "pipeline.yaml"], { cwd: dir, env });
    expect(whyLines(status.stdout)).toEqual(whyLines(run.stdout));
  });
});
