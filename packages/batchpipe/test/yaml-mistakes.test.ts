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
