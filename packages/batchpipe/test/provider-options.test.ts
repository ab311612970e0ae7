// A provider's options that only fail when the run reaches the provider are refused by `validate`
// (and so by `run`, before it reads anything), at their place with the fix: through the real CLI.
import { describe, expect, test } from "vitest";
import { batchpipe, writeFiles } from "./support/harness.js";

function spec(provider: string, batch = ""): string {
  return `version: 1
name: t
provider: ${provider}
source: { use: jsonl, path: ./data.jsonl }
transform:
  id: "{{ id }}"
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }
sinks:
  - { use: jsonl, path: ./out/results.jsonl }
${batch}`;
}

function folder(yaml: string): string {
  return writeFiles({ "pipeline.yaml": yaml, "data.jsonl": '{"id":"a","text":"hi"}\n' });
}

describe("the emulator provider's `emulator:` options", () => {
  test("a misspelt option is an unknown key with a did-you-mean, at validate and at run (not an UNEXPECTED crash)", async () => {
    const dir = folder(spec("{ use: emulator, emulator: { timescale: 3600 } }"));
    const validate = await batchpipe(["validate", "pipeline.yaml"], { cwd: dir });
    expect(validate.code).toBe(2);
    expect(validate.stderr).toContain(
      'pipeline.yaml:3:40 provider.emulator.timescale: unknown key "timescale"',
    );
    expect(validate.stderr).toContain('hint: did you mean "timeScale"?');
    const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("(SPEC_INVALID)");
    expect(run.stderr).not.toContain("UNEXPECTED");
  });

  test("a wrong type, in a nested option too, is reported at its place", async () => {
    const dir = folder(
      spec(
        '{ use: emulator, emulator: { timeScale: "fast", latencies: { validaton: 1 }, lineRules: [{ rate: 2 }] } }',
      ),
    );
    const validate = await batchpipe(["validate", "pipeline.yaml"], { cwd: dir });
    expect(validate.code).toBe(2);
    expect(validate.stderr).toContain(
      "pipeline.yaml:3:51 provider.emulator.timeScale: expected a number, got a string",
    );
    expect(validate.stderr).toContain("provider.emulator.latencies.validaton: unknown key");
    expect(validate.stderr).toContain("provider.emulator.lineRules[0].rate:");
  });
});
