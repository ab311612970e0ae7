// `plan` and `try` check the spec against the machine as `run` and `validate` do (checkPipeline): a
// source `path` that names no file is SPEC_INVALID at its place in the spec (exit 2, with a hint),
// not the source's bare SOURCE_FAILED (exit 1). `plan` calls no provider, so it needs no API key.
import { describe, expect, it } from "vitest";
import { batchpipe, records, writeFiles } from "./support/harness.js";

const spec = (provider: string, data: string) => `version: 1
name: spec-check
provider: ${provider}
source: { use: jsonl, path: ./${data} }
transform:
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }
sinks: [{ use: jsonl, path: ./out/results.jsonl }]
`;

describe("plan and try check the spec as run does", () => {
  it.each(["plan", "try"])(
    "`%s` on a missing input file: SPEC_INVALID at source.path, exit 2",
    async (command) => {
      const dir = writeFiles({
        "pipeline.yaml": spec("{ use: emulator, emulator: { timeScale: 3600 } }", "dta.jsonl"),
        "data.jsonl": records(2),
      });
      const out = await batchpipe([command, "pipeline.yaml"], { cwd: dir });
      expect(out.code).toBe(2);
      expect(out.stderr).toMatchInlineSnapshot(`
        "pipeline.yaml:4:29 source.path: no such file or folder: dta.jsonl
          2 | name: spec-check
          3 | provider: { use: emulator, emulator: { timeScale: 3600 } }
        > 4 | source: { use: jsonl, path: ./dta.jsonl }
            |                             ^^^^^^^^^^^
          5 | transform:
          6 |   body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }
          hint: check the path; it is relative to the spec file

        ✖ pipeline.yaml has a problem (SPEC_INVALID)
        "
      `);
    },
  );

  it("`try` without the provider's API key: SPEC_INVALID at provider, as run says it", async () => {
    const dir = writeFiles({
      "pipeline.yaml": spec("{ use: openai }", "data.jsonl"),
      "data.jsonl": records(2),
    });
    const out = await batchpipe(["try", "pipeline.yaml"], { cwd: dir, env: { OPENAI_API_KEY: undefined } });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("pipeline.yaml:3:11 provider: no OpenAI API key: OPENAI_API_KEY is not set");
  });

  it("`plan` needs no API key: it calls no provider", async () => {
    const dir = writeFiles({
      "pipeline.yaml": spec("{ use: openai }", "data.jsonl"),
      "data.jsonl": records(2),
    });
    const out = await batchpipe(["plan", "pipeline.yaml"], { cwd: dir, env: { OPENAI_API_KEY: undefined } });
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(out.stdout).toContain("plan for spec-check: 2 records → 2 requests in 1 shard");
  });
});
