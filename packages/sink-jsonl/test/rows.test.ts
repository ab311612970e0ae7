// What a line holds (fields:) and what a fresh sink does to an existing file (append:).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FailureRow, SuccessRow } from "@batchpipe/core/plugin";
import { createTestContext } from "@batchpipe/core/testing";
import { expect, test } from "vitest";
import sink from "../src/index.js";

const success: SuccessRow = {
  id: "s1",
  status: "success",
  output: { sentiment: "positive", scores: [0.9] },
  response: { id: "chatcmpl-1", choices: [] },
  usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 },
  model: "gpt-4o-mini",
  batch_id: "batch_1",
  attempts: 1,
  input: { id: "s1", text: "hi" },
  source: { file: "/data/in.jsonl", line: 1 },
};
const failure: FailureRow = {
  id: "f1",
  status: "failed",
  error: { code: "batch_expired", message: "expired", status_code: null },
  attempts: 2,
  batch_id: null,
  input: { id: "f1", text: "hello" },
  source: { file: "/data/in.jsonl", line: 2 },
};

async function writeRows(options: Record<string, unknown>, existing?: string): Promise<unknown[]> {
  const dir = mkdtempSync(join(tmpdir(), "sink-jsonl-rows-"));
  try {
    if (existing !== undefined) writeFileSync(join(dir, "out.jsonl"), existing);
    const parsed = sink.options.parse({ path: "out.jsonl", ...options });
    const handle = await sink.open({ ...createTestContext(dir, parsed), checkpoint: undefined });
    await handle.write([success, failure]);
    await handle.commit("k1");
    await handle.close();
    return readFileSync(join(dir, "out.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  } finally {
    rmSync(dir, { recursive: true });
  }
}

test("the default line: a success without response, input and source; a failure whole", async () => {
  expect(await writeRows({})).toEqual([
    {
      id: "s1",
      status: "success",
      output: success.output,
      usage: success.usage,
      model: "gpt-4o-mini",
      batch_id: "batch_1",
      attempts: 1,
    },
    failure,
  ]);
});

test("fields: all is the whole row; a list keeps those fields and paths, renamed where asked", async () => {
  expect(await writeRows({ fields: "all" })).toEqual([success, failure]);
  expect(
    await writeRows({ fields: ["id", "output.sentiment", { tokens: "usage.total_tokens" }, "error.code"] }),
  ).toEqual([
    { id: "s1", output_sentiment: "positive", tokens: 3 },
    { id: "f1", error_code: "batch_expired" },
  ]);
});

test("a path into a text output has no value and says so once, through the logger (the requests asked for no JSON)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-jsonl-rows-"));
  try {
    const warnings: string[] = [];
    const parsed = sink.options.parse({
      path: "out.jsonl",
      fields: ["id", "output.sentiment", "usage.total_tokens"],
    });
    const context = createTestContext(dir, parsed);
    const logger = { ...context.logger, warn: (message: string) => warnings.push(message) };
    const handle = await sink.open({ ...context, logger, checkpoint: undefined });
    const text = (id: string): SuccessRow => ({ ...success, id, output: "The review is positive." });
    await handle.write([text("t1"), text("t2"), success]);
    await handle.commit("k1");
    await handle.close();
    const rows = readFileSync(join(dir, "out.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(rows).toEqual([
      { id: "t1", usage_total_tokens: 3 },
      { id: "t2", usage_total_tokens: 3 },
      { id: "s1", output_sentiment: "positive", usage_total_tokens: 3 },
    ]);
    expect(warnings).toEqual([
      'jsonl sink out.jsonl: fields: output.sentiment has no value: in row "t1" (and maybe others) `output` is text ("The review is positive."), which has no fields. Ask for JSON output in the request body (e.g. response_format: { type: json_schema, … }), or keep `output` itself.',
    ]);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test("a fresh sink empties an existing file; append: true keeps its lines", async () => {
  const earlier = `${JSON.stringify({ id: "earlier" })}\n`;
  expect((await writeRows({ fields: ["id"] }, earlier)).map((row) => (row as { id: string }).id)).toEqual([
    "s1",
    "f1",
  ]);
  expect(
    (await writeRows({ fields: ["id"], append: true }, earlier)).map((row) => (row as { id: string }).id),
  ).toEqual(["earlier", "s1", "f1"]);
  // a last line without its newline is ended first: the first row is not glued onto it
  expect(
    (await writeRows({ fields: ["id"], append: true }, JSON.stringify({ id: "earlier" }))).map(
      (row) => (row as { id: string }).id,
    ),
  ).toEqual(["earlier", "s1", "f1"]);
});

test("fields that are not row paths are refused with their place", () => {
  const issues = (fields: unknown) =>
    sink.options.safeParse({ path: "out.jsonl", fields }).error?.issues.map((i) => i.path.join("."));
  expect(issues(["id", "respnse"])?.[0]).toMatch(/^fields/);
  expect(issues([])).toEqual(["fields"]);
  expect(issues(["id", { a: "usage", b: "model" }])).toEqual(["fields.1"]);
});
