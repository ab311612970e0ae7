// A provider's options that only fail when the run reaches the provider are refused by `validate`
// (and so by `run`, before it reads anything), at their place with the fix: through the real CLI.
import { existsSync } from "node:fs";
import { join } from "node:path";
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

describe("batch.completion_window", () => {
  const window48 = "batch:\n  completion_window: 48h\n";

  test("the emulator (which answers as OpenAI) refuses anything but 24h at validate, and run stops before reading", async () => {
    const dir = folder(spec("{ use: emulator, emulator: { timeScale: 3600 } }", window48));
    const validate = await batchpipe(["validate", "pipeline.yaml"], { cwd: dir });
    expect(validate.code).toBe(2);
    expect(validate.stderr).toContain(
      "pipeline.yaml:11:22 batch.completion_window: the emulator provider accepts only 24h",
    );
    expect(validate.stderr).toContain("hint: write completion_window: 24h, or leave the key out");
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.events.map((event) => event.type)).toEqual(["error"]);
    expect(existsSync(join(dir, "out"))).toBe(false);
  });

  test("openai at OpenAI refuses it; openai at another (compatible) base URL passes it on", async () => {
    const atOpenAI = await batchpipe(["validate", "pipeline.yaml"], {
      cwd: folder(spec("{ use: openai }", window48)),
      env: { OPENAI_BASE_URL: undefined },
    });
    expect(atOpenAI.code).toBe(2);
    expect(atOpenAI.stderr).toContain("batch.completion_window: the openai provider accepts only 24h");
    const compatible = await batchpipe(["validate", "pipeline.yaml"], {
      cwd: folder(spec('{ use: openai, base_url: "http://127.0.0.1:9/v1" }', window48)),
      env: { OPENAI_BASE_URL: undefined },
    });
    expect(compatible.stderr).toBe("");
    expect(compatible.code).toBe(0);
    const compatibleByEnv = await batchpipe(["validate", "pipeline.yaml"], {
      cwd: folder(spec("{ use: openai }", window48)),
      env: { OPENAI_BASE_URL: "http://127.0.0.1:9/v1" },
    });
    expect(compatibleByEnv.code).toBe(0);
  });
});
