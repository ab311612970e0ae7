// YAML that parses into something the author did not mean, or fails with yaml's own wording:
// refused or explained at the place, with the fix (usually: quote the value), through the real CLI.
import { describe, expect, test } from "vitest";
import { batchpipe, writeFiles } from "./support/harness.js";

/** a minimal emulator spec whose transform (from `transform:` on) is `transform` */
function spec(transform: string, rest = ""): string {
  return `version: 1
name: t
provider: { use: emulator, emulator: { timeScale: 3600 } }
source: { use: jsonl, path: ./data.jsonl }
${transform}
sinks:
  - { use: jsonl, path: ./out/results.jsonl }
${rest}`;
}

async function validate(yaml: string) {
  const dir = writeFiles({ "pipeline.yaml": yaml, "data.jsonl": '{"id":"a","text":"hi"}\n' });
  return batchpipe(["validate", "pipeline.yaml"], { cwd: dir });
}

describe("an unquoted {{ template }} that YAML reads as a mapping", () => {
  test("in a flow mapping of body: refused at its place with the quoted form, no Node warning", async () => {
    const run = await validate(
      spec(`transform:
  id: "{{ id }}"
  body:
    model: gpt-4o-mini
    messages: [{ role: user, content: {{ text }} }]`),
    );
    expect(run.code).toBe(2);
    expect(run.stderr).not.toContain("Warning");
    expect(run.stderr).toContain(
      "pipeline.yaml:9:39 transform.body.messages[0].content: the template {{ text }} is not quoted, so YAML reads it as a mapping",
    );
    expect(run.stderr).toContain(
      'hint: a {{ … }} template must be quoted, or YAML reads its braces as a mapping: write content: "{{ text }}"',
    );
    expect(run.stderr).toContain("(SPEC_INVALID)");
  });

  test("as the id, in block style: the same, not 'expected a string, got a mapping'", async () => {
    const run = await validate(
      spec(`transform:
  id: {{ id }}
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }`),
    );
    expect(run.code).toBe(2);
    expect(run.stderr).not.toContain("Warning");
    expect(run.stderr).toContain("pipeline.yaml:6:7 transform.id: the template {{ id }} is not quoted");
    expect(run.stderr).toContain('write id: "{{ id }}"');
  });
});

describe("a YAML syntax error that quoting the value fixes gets the quoted value as its hint", () => {
  const body = (content: string) => `transform:
  id: "{{ id }}"
  body:
    model: gpt-4o-mini
    messages: [{ role: user, content: ${content} }]`;
  test.each([
    {
      name: "a package name starting with @",
      yaml: spec(body('"{{ text }}"'), "errors: [{ use: @acme/bp-sink }]\n"),
      at: "pipeline.yaml:12:17 Plain value cannot start with reserved character @",
      hint: 'hint: a value cannot start with @ unquoted: write use: "@acme/bp-sink"',
    },
    {
      name: "a colon inside a flow mapping's value",
      yaml: spec(body("Review: {{ text }}")),
      at: "pipeline.yaml:9:39 Block collections are not allowed within flow collections",
      hint: 'hint: a value that holds ": " must be quoted, or YAML reads it as a nested key: write content: "Review: {{ text }}"',
    },
    {
      name: "a colon inside a block value",
      yaml: spec(`transform:
  id: "{{ id }}"
  body:
    model: gpt-4o-mini
    messages:
      - role: user
        content: Review: {{ text }}`),
      at: "pipeline.yaml:11:18 Nested mappings are not allowed in compact mappings",
      hint: 'write content: "Review: {{ text }}"',
    },
    {
      name: "a template followed by more text",
      yaml: spec(`transform:
  id: {{ id }}-x
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }`),
      at: "pipeline.yaml:6:15 Unexpected scalar at node end",
      hint: 'hint: a {{ … }} template must be quoted, or YAML reads its braces as a mapping: write id: "{{ id }}-x"',
    },
  ])("$name", async ({ yaml, at, hint }) => {
    const run = await validate(yaml);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(at);
    expect(run.stderr).toContain(hint);
  });

  test("a value on a line indented too far keeps the indentation hint", async () => {
    const run = await validate(
      spec(body('"{{ text }}"'), "batch:\n  poll_interval: 200ms\n    max_requests: 5\n"),
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("hint: a key has both a value and a nested mapping: check the indentation");
  });
});

test("a key given twice is named with its path and where it is first given", async () => {
  const run = await validate(
    spec(
      `transform:
  id: "{{ id }}"
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }`,
      "batch:\n  poll_interval: 200ms\n  max_requests: 5\n  poll_interval: 1s\n",
    ),
  );
  expect(run.code).toBe(2);
  expect(run.stderr).toContain(
    'pipeline.yaml:13:3 batch.poll_interval: duplicate key "poll_interval": first given on line 11',
  );
  expect(run.stderr).toContain(
    "hint: a key may appear only once in a mapping: keep the one with the value you mean",
  );
});
