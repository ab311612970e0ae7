// The report's "why they failed" names each code's first record unless its message already does.
// It left the id out whenever the message held it as any text: a record "a" whose message said
// "…produced a request…" was shown without its id.
import { expect, it } from "vitest";
import { failureLines } from "../src/commands/run-output.js";

const lines = (id: string, message: string) =>
  failureLines({
    failed: 1,
    failedByCode: { invalid_request: 1 },
    firstFailures: { invalid_request: { id, message } },
  }).split("\n")[1];

it("names the record unless its message names it by its place or its quoted id", () => {
  expect(lines("a", "the transform produced a request without url or body")).toBe(
    "  invalid_request (1): a: the transform produced a request without url or body",
  );
  expect(lines("data.jsonl:7", "line is not JSON at data.jsonl:7")).toBe(
    "  invalid_request (1): line is not JSON at data.jsonl:7",
  );
  expect(lines("x", 'custom_id "x" (data.jsonl:2) was taken by an earlier record')).toBe(
    '  invalid_request (1): custom_id "x" (data.jsonl:2) was taken by an earlier record',
  );
});
