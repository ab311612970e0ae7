import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { cli } from "./support/harness.js";

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
  expect(schema.properties.transform.anyOf[0].properties.endpoint.enum).toContain("/v1/moderations");
  // null (the default): the provider's own limit
  expect(schema.properties.batch.properties.max_bytes.anyOf).toEqual([
    expect.objectContaining({
      anyOf: [
        { type: "integer", minimum: 0, maximum: 9007199254740991 },
        { type: "string", pattern: expect.any(String) },
      ],
    }),
    { type: "null" },
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
