import { BatchpipeError } from "@batchpipe/core";
import { expect, test } from "vitest";
import { exitCodeFor, renderError } from "../src/render-error.js";
import { writeFiles } from "./support/harness.js";

const plain = { color: false, debug: false, cwd: "/work" };

test("an unexpected error prints a short message and a bug hint; the stack only with --debug", () => {
  const error = new TypeError("cannot read properties of undefined");
  expect(renderError(error, plain)).toMatchInlineSnapshot(`
    "✖ unexpected error: cannot read properties of undefined
      hint: this is a bug in batchpipe or a plugin; please report it with the output of --debug"
  `);
  expect(renderError(error, { ...plain, debug: true })).toContain("at ");
  expect(exitCodeFor(error)).toBe(1);
});

test("a BatchpipeError with a place gets its code frame from the file", () => {
  const dir = writeFiles({ "data.jsonl": '{"id":1}\n{"id":2,\n{"id":3}\n' });
  const error = new BatchpipeError("SOURCE_FAILED", "line 2 is not valid JSON", {
    loc: { file: `${dir}/data.jsonl`, line: 2, column: 8 },
    hint: "fix the line or set on_invalid: skip_row",
    recordId: "2",
  });
  expect(renderError(error, { ...plain, cwd: dir })).toMatchInlineSnapshot(`
    "✖ line 2 is not valid JSON (SOURCE_FAILED)
      at data.jsonl:2:8
      1 | {"id":1}
    > 2 | {"id":2,
        |        ^
      3 | {"id":3}
      record: 2
      hint: fix the line or set on_invalid: skip_row"
  `);
  expect(exitCodeFor(error)).toBe(1);
  expect(exitCodeFor(new BatchpipeError("PLUGIN_NOT_FOUND", "x"))).toBe(2);
});

test("causes are printed under --debug", () => {
  const error = new BatchpipeError("PROVIDER_FAILED", "the provider refused", {
    cause: new Error("429 too many"),
  });
  expect(renderError(error, plain)).not.toContain("429");
  expect(renderError(error, { ...plain, debug: true })).toContain("[cause] Error: 429 too many");
});
