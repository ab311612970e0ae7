import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Validator } from "@cfworker/json-schema";
import { describe, expect, test } from "vitest";
import { parse } from "yaml";
import { cli, ROOT } from "./support/harness.js";

const committed = new URL("../../core/schema/pipeline.schema.json", import.meta.url);

test("packages/core/schema/pipeline.schema.json is what `batchpipe schema` prints", async () => {
  const { code, stdout } = await cli(["schema"]);
  expect(code).toBe(0);
  const regenerate =
    "the committed schema is out of date: run `pnpm build && node packages/batchpipe/bin/batchpipe.js schema > packages/core/schema/pipeline.schema.json`";
  expect(readFileSync(committed, "utf8"), regenerate).toBe(stdout);
});

test("the schema spells out the official plugins' options through `use` and leaves others open", async () => {
  const schema = JSON.parse((await cli(["schema"])).stdout);
  const sinkBranches = schema.properties.sinks.items.anyOf;
  expect(sinkBranches.map((branch: { properties: { use: unknown } }) => branch.properties.use)).toEqual([
    { const: "jsonl" },
    { const: "sqlite" },
    { const: "postgres" },
    { type: "string", not: { enum: ["jsonl", "sqlite", "postgres"] } },
  ]);
  expect(sinkBranches[1].required).toEqual(["use", "path"]);
  expect(sinkBranches[2].required).toEqual(["use", "url"]);
  expect(sinkBranches[3].additionalProperties).toBe(true);
  expect(schema.properties.transform.anyOf[0].properties.endpoint.anyOf[0].enum).toContain("/v1/moderations");
  // null (the default): the provider's own limit
  expect(schema.properties.batch.properties.max_bytes.anyOf).toEqual([
    expect.objectContaining({
      anyOf: [
        { type: "integer", minimum: 0, maximum: 9007199254740991 },
        { type: "string", pattern: expect.any(String) },
      ],
    }),
    { type: "null" },
    // a ${VAR} reference (interpolated before validation)
    { $ref: "#/definitions/reference" },
  ]);
  const providerBranches = schema.properties.provider.anyOf;
  expect(providerBranches.map((branch: { properties: { use: unknown } }) => branch.properties.use)).toEqual([
    { const: "openai" },
    { const: "emulator" },
    { const: "anthropic" },
    { type: "string", not: { enum: ["openai", "emulator", "anthropic"] } },
  ]);
  expect(Object.keys(providerBranches[0].properties)).toEqual(
    expect.arrayContaining(["base_url", "api_key"]),
  );
  // `use` may be left out: openai is the default
  expect(providerBranches[0].required ?? []).not.toContain("use");
});

describe("the schema accepts what validate accepts", () => {
  const schema = JSON.parse(readFileSync(committed, "utf8"));
  const validator = new Validator(schema, "7", false);
  /** the validator's errors for `spec` (parsed from YAML as an editor sees it: no interpolation) */
  const problems = (spec: unknown) =>
    validator
      .validate(spec)
      .errors.filter((error) => !error.keyword.match(/^(anyOf|properties|items|\$ref)$/))
      .map((error) => `${error.instanceLocation} ${error.error}`);
  const minimal = parse(`version: 1
name: t
source: { use: jsonl, path: ./data.jsonl }
transform: { body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] } }
sinks: [{ use: jsonl, path: ./out.jsonl }]
`);

  test("the repo's example specs", () => {
    const examples = path.join(ROOT, "examples");
    const dirs = readdirSync(examples, { withFileTypes: true }).filter((entry) => entry.isDirectory());
    const files = dirs.flatMap(({ name: dir }) =>
      readdirSync(path.join(examples, dir))
        .filter((file) => /\.ya?ml$/.test(file))
        .map((file) => path.join(dir, file)),
    );
    expect(files).toContain(path.join("csv-to-postgres", "pipeline.yaml"));
    for (const file of files)
      expect(problems(parse(readFileSync(path.join(examples, file), "utf8"))), file).toEqual([]);
  });

  test("the README's spec examples (a fragment inside a minimal spec)", () => {
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
    const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => parse(match[1]!));
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    for (const block of blocks) expect(problems({ ...minimal, ...block }), JSON.stringify(block)).toEqual([]);
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: the spec syntax
  test("a ${VAR} reference wherever a value goes, and a wrong value is still refused", () => {
    const spec = parse(`version: 1
name: \${PNAME:-x}
provider:
  use: emulator
  emulator:
    timeScale: \${SCALE:-3600}
source:
  use: csv
  path: ./data.csv
  delimiter: \${DELIM}
transform:
  endpoint: \${ENDPOINT:-/v1/chat/completions}
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }
batch:
  max_requests: \${N:-50}
  poll_interval: \${P:-200ms}
  max_cost: \${C:-1}
  completion_window: \${W:-24h}
sinks:
  - use: postgres
    url: "\${DATABASE_URL}"
    table: \${TABLE}
notify:
  - webhook: \${NOTIFY_URL}
`);
    expect(problems(spec)).toEqual([]);
    const wrong = { ...spec, batch: { max_requests: "many", poll_interval: "soon" } };
    const refusedAt = new Set(problems(wrong).map((problem) => problem.split(" ")[0]));
    expect([...refusedAt].sort()).toEqual(["#/batch/max_requests", "#/batch/poll_interval"]);
  });
});
