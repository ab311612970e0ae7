// docs/errors.md lists every code: each code that stops a command (ErrorCodes), none that does not
// exist, and the failure codes a run's records get (a duplicate id's `duplicate_id` was missing).
import fs from "node:fs";
import path from "node:path";
import { ErrorCodes } from "@batchpipe/core";
import { describe, expect, it } from "vitest";
import { cli, ROOT, readJsonl, writeFiles } from "./support/harness.js";

const doc = fs.readFileSync(path.join(ROOT, "docs/errors.md"), "utf8");
const [stopping = "", failed = ""] = doc
  .split("## Codes of failed records")
  .map((part) => part.split("\n").filter((line) => line.startsWith("| `")));
/** the codes in the first column of a table's rows */
const codesOf = (rows: string[]) =>
  rows.flatMap((row) => [...row.split("|")[1]!.matchAll(/`([A-Za-z_]+)`/g)].map((m) => m[1]!));

describe("docs/errors.md", () => {
  it("lists every code that stops a command, and no other", () => {
    expect(codesOf(stopping as string[]).sort()).toEqual(Object.values(ErrorCodes).sort());
  });

  it("lists the codes of the failed records a run writes", async () => {
    const dir = writeFiles({
      "pipeline.yaml": [
        "version: 1",
        "name: docs-error-codes",
        "provider: { use: emulator, emulator: { timeScale: 3600 } }",
        "source: { use: jsonl, path: ./data.jsonl }",
        "transform:",
        '  id: "{{ id }}"',
        '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
        "batch: { poll_interval: 50ms }",
        "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
        "errors: [{ use: jsonl, path: ./out/errors.jsonl }]",
        "",
      ].join("\n"),
      "data.jsonl": [
        '{"id":"a","text":"fine"}',
        '{"id":"a","text":"the same id again"}',
        "not json",
        '{"id":"c"}',
        "",
      ].join("\n"),
    });
    const result = await cli(["run", "pipeline.yaml"], { cwd: dir });
    expect(result.code).toBe(3);
    const codes = readJsonl<{ error: { code: string } }>(path.join(dir, "out/errors.jsonl")).map(
      (row) => row.error.code,
    );
    expect(codes.sort()).toEqual(["duplicate_id", "invalid_input", "template_error"]);
    const listed = codesOf(failed as string[]);
    expect(codes.filter((code) => !listed.includes(code))).toEqual([]);
  });
});
