/**
 * A line rule's `stop: "content_filter"`: the chosen requests succeed with an answer the content
 * filter stopped halfway, in each API's words (chat and completions: finish_reason content_filter;
 * responses: incomplete, reason content_filter; Anthropic: stop_reason refusal). Through the
 * official SDKs, over HTTP.
 */
import { afterEach, expect, it } from "vitest";
import { type AnthropicHarness, request, resultsOf, startAnthropic, waitEnded } from "./anthropic-helpers.js";
import { chatLine, type Harness, readLinesOf, startHarness, submit, waitForBatch } from "./helpers.js";

let h: Harness | AnthropicHarness | undefined;
afterEach(async () => h?.close());

const TEXT = "the box was big and the product was fine"; // 40 characters: 20 when stopped
const rules = [{ customIds: ["stopped"], stop: "content_filter" as const }];

/** a response body: what the tests read of it */
type Body = Record<string, unknown> & {
  choices: Record<string, unknown>[];
  usage: Record<string, number>;
};

async function bodies(harness: Harness, lines: unknown[], endpoint: string) {
  const created = await submit(harness, lines, endpoint);
  const { batch } = await waitForBatch(harness.client, created.id);
  expect(batch.request_counts).toMatchObject({ completed: lines.length, failed: 0 });
  const out: Record<string, Body> = {};
  for (const line of await readLinesOf(harness.client, batch.output_file_id))
    out[line.custom_id] = line.response!.body as Body;
  return out;
}

it("chat and completions: finish_reason content_filter, the first half of the answer", async () => {
  const harness = await startHarness({ lineRules: rules });
  h = harness;
  const chat = await bodies(
    harness,
    [chatLine("stopped", TEXT), chatLine("whole", TEXT)],
    "/v1/chat/completions",
  );
  expect(chat.stopped!.choices[0]).toMatchObject({
    finish_reason: "content_filter",
    message: { content: TEXT.slice(0, 20) },
  });
  expect(chat.stopped!.usage.completion_tokens).toBe(5);
  expect(chat.whole!.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: TEXT } });

  const line = (id: string) => ({
    custom_id: id,
    method: "POST",
    url: "/v1/completions",
    body: { model: "davinci-002", prompt: TEXT },
  });
  const completions = await bodies(harness, [line("stopped"), line("whole")], "/v1/completions");
  expect(completions.stopped!.choices[0]).toMatchObject({
    finish_reason: "content_filter",
    text: TEXT.slice(0, 20),
  });
  expect(completions.whole!.choices[0]).toMatchObject({ finish_reason: "stop", text: TEXT });
});

it("responses: status incomplete, incomplete_details.reason content_filter; a cap still cuts at length", async () => {
  const harness = await startHarness({ lineRules: rules });
  h = harness;
  const line = (id: string, extra: object = {}) => ({
    custom_id: id,
    method: "POST",
    url: "/v1/responses",
    body: { model: "gpt-4o-mini", input: TEXT, ...extra },
  });
  const out = await bodies(
    harness,
    [line("stopped"), line("whole"), line("capped", { max_output_tokens: 2 })],
    "/v1/responses",
  );
  expect(out.stopped).toMatchObject({
    status: "incomplete",
    incomplete_details: { reason: "content_filter" },
    output_text: TEXT.slice(0, 20),
  });
  expect(out.whole).toMatchObject({ status: "completed", incomplete_details: null, output_text: TEXT });
  expect(out.capped).toMatchObject({
    status: "incomplete",
    incomplete_details: { reason: "max_output_tokens" },
  });
});

it("anthropic: a succeeded message with stop_reason refusal", async () => {
  const harness = await startAnthropic({ lineRules: rules });
  h = harness;
  const batch = await harness.client.messages.batches.create({
    requests: [request("stopped", TEXT), request("whole", TEXT)],
  });
  await waitEnded(harness.client, batch.id);
  const results = Object.fromEntries(
    (await resultsOf(harness.client, batch.id)).map((r) => [r.custom_id, r.result]),
  );
  expect(results.stopped).toMatchObject({
    type: "succeeded",
    message: { stop_reason: "refusal", content: [{ type: "text", text: TEXT.slice(0, 20) }] },
  });
  expect(results.whole).toMatchObject({ message: { stop_reason: "end_turn" } });
});
