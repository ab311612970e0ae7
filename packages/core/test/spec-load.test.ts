import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { officialPlugins as builtins, writeFiles } from "../../batchpipe/test/support/harness.js";
import {
  type BatchpipeError,
  loadPipeline,
  parseDuration,
  parseSize,
  resolvePipeline,
  type SpecIssueError,
} from "../src/index.js";
import { defineSink, defineSource, z } from "../src/plugin.js";

const minimal = `version: 1
name: reviews
source: { use: jsonl, path: ./in.jsonl }
transform:
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }
sinks: [{ use: jsonl, path: ./out.jsonl }]
`;

/** every problem as `line:col path: message` */
async function problems(yaml: string, env: Record<string, string> = {}): Promise<string[]> {
  const dir = writeFiles({ "pipeline.yaml": yaml });
  const error = await loadPipeline(join(dir, "pipeline.yaml"), { env, builtins }).then(
    () => expect.unreachable("the spec loaded"),
    (thrown: BatchpipeError) => thrown,
  );
  expect(error.code).toBe("SPEC_INVALID");
  return (error.details as SpecIssueError[]).map(
    (detail) => `${detail.loc?.line}:${detail.loc?.column} ${detail.path}: ${detail.message}`,
  );
}

describe("loadPipeline", () => {
  test("applies the defaults: openai provider, prompt transform, the provider's batch limits, errors sink under .batchpipe/<name>", async () => {
    const dir = writeFiles({ "pipeline.yaml": minimal });
    const pipeline = await loadPipeline(join(dir, "pipeline.yaml"), { env: {}, builtins });
    expect(pipeline.file).toBe(join(dir, "pipeline.yaml"));
    expect(pipeline.dir).toBe(dir);
    expect(pipeline.spec.provider).toEqual({ use: "openai" });
    expect(pipeline.spec.batch).toEqual({
      completion_window: "24h",
      // null: the provider's own limits (OpenAI: 50,000 requests, 200 MB)
      max_requests: null,
      max_bytes: null,
      max_enqueued_tokens: null,
      max_attempts: 3,
      poll_interval: 30_000,
      max_outage: 6 * 3_600_000,
      clean_up: true,
      allow_same_dataset: false,
      cache_max_size: 1024 ** 3,
      max_cost: null,
      plugin_timeout: 300_000,
      deadline: null,
    });
    expect(pipeline.spec.notify).toEqual([]);
    expect(pipeline.spec.pricing).toEqual({});
    expect(pipeline.provider).toMatchObject({ use: "openai", label: "provider (openai)" });
    expect(pipeline.provider.plugin.limits(pipeline.provider.options)).toMatchObject({
      maxRequests: 50_000,
      maxBytes: 209_715_200,
    });
    expect(pipeline.transform.use).toBe("prompt");
    expect(pipeline.transform.label).toBe("transform (prompt)");
    expect(pipeline.transform.options).toMatchObject({ endpoint: "/v1/chat/completions", id: "{{ id }}" });
    expect(pipeline.source).toMatchObject({
      use: "jsonl",
      label: "source (jsonl)",
      options: { path: "./in.jsonl" },
    });
    expect(pipeline.sinks.map((sink) => sink.label)).toEqual(["sinks[0] (jsonl)"]);
    expect(pipeline.errors.map((sink) => [sink.label, sink.options])).toEqual([
      ["errors[0] (jsonl)", { path: ".batchpipe/reviews/errors.jsonl", append: false }],
    ]);
    expect(pipeline.resolvePath("out/x.jsonl")).toBe(join(dir, "out/x.jsonl"));
  });

  test("durations and sizes become milliseconds and bytes", async () => {
    const dir = writeFiles({
      "pipeline.yaml": `${minimal}batch: { poll_interval: 200ms, max_bytes: 512KB, max_cost: 12.5, max_enqueued_tokens: 90000, plugin_timeout: 30s }\n`,
    });
    const { spec } = await loadPipeline(join(dir, "pipeline.yaml"), { env: {}, builtins });
    expect(spec.batch).toMatchObject({
      poll_interval: 200,
      max_bytes: 524_288,
      max_cost: 12.5,
      max_enqueued_tokens: 90_000,
      plugin_timeout: 30_000,
    });
  });

  test.each([
    ["200ms", 200],
    ["30s", 30_000],
    ["5m", 300_000],
    ["24h", 86_400_000],
    ["1.5s", 1500],
    [250, 250],
    ["30", undefined],
    ["5 minutes", undefined],
    [-1, undefined],
  ])("parseDuration(%j) = %j", (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  test.each([
    ["200MB", 209_715_200],
    ["1MB", 1_048_576],
    ["512KB", 524_288],
    ["100B", 100],
    ["1GB", 1_073_741_824],
    [4096, 4096],
    ["200", undefined],
    ["1.5", undefined],
    [1.5, undefined],
  ])("parseSize(%j) = %j", (input, expected) => {
    expect(parseSize(input)).toBe(expected);
  });

  test("max_bytes above 200MB, max_requests above 50000 (the openai provider's limits) and malformed durations are errors", async () => {
    expect(
      await problems(
        `${minimal}batch:\n  max_bytes: 201MB\n  max_requests: 50001\n  poll_interval: soon\n  max_cost: 0\n  plugin_timeout: 0s\n`,
      ),
    ).toEqual([
      "8:14 batch.max_bytes: must be at most 200MB",
      "9:17 batch.max_requests: must be at most 50000",
      '10:18 batch.poll_interval: expected a duration such as "200ms", "30s", "5m" or "24h" (a number is milliseconds)',
      "11:13 batch.max_cost: must be greater than 0",
      "12:19 batch.plugin_timeout: must be more than 0",
    ]);
  });

  test("variables and variables with defaults are interpolated; a plain scalar that is one reference keeps its type", async () => {
    const dir = writeFiles({
      "pipeline.yaml": `version: 1
name: \${NAME:-reviews}
source: { use: jsonl, path: "./\${DATA}/in.jsonl" }
transform:
  body: { model: "\${MODEL:-gpt-4o-mini}", messages: [] }
batch:
  max_requests: \${MAX}
  clean_up: \${CLEAN}
sinks: [{ use: jsonl, path: "out-$\${literal}.jsonl" }]
`,
    });
    const { spec, sinks, transform } = await loadPipeline(join(dir, "pipeline.yaml"), {
      env: { DATA: "data", MAX: "1000", CLEAN: "false", MODEL: "" },
      builtins,
    });
    expect(spec.name).toBe("reviews");
    expect(spec.source.path).toBe("./data/in.jsonl");
    expect(spec.batch.max_requests).toBe(1000);
    expect(spec.batch.clean_up).toBe(false);
    expect((transform.options as { body: { model: string } }).body.model).toBe("gpt-4o-mini");
    expect(sinks[0]!.options).toEqual({ path: `out-$\{literal}.jsonl`, append: false });
  });

  test("a quoted reference where a number is expected gets a hint", async () => {
    const dir = writeFiles({ "pipeline.yaml": `${minimal}batch: { max_requests: "$\{N}" }\n` });
    const error = await loadPipeline(join(dir, "pipeline.yaml"), { env: { N: "5" }, builtins }).catch(
      (thrown) => thrown,
    );
    expect(error.details.map((detail: SpecIssueError) => [detail.path, detail.message, detail.hint])).toEqual(
      [
        [
          "batch.max_requests",
          "expected a number, got a string",
          "a quoted value stays a string: write $" + "{VAR} unquoted, in block style",
        ],
      ],
    );
  });

  test("a bare `-` value (standard input) gets the hint to quote it, in block and flow style", async () => {
    for (const source of ["source:\n  use: jsonl\n  path: -\n", "source: { use: jsonl, path: - }\n"]) {
      const dir = writeFiles({
        "pipeline.yaml": `version: 1\nname: dash\n${source}sinks: [{ use: jsonl, path: out.jsonl }]\n`,
      });
      const error = await loadPipeline(join(dir, "pipeline.yaml"), { env: {}, builtins }).catch(
        (thrown) => thrown,
      );
      expect(error.code).toBe("SPEC_INVALID");
      expect(error.details[0].hint).toMatch(/quote it, e\.g\. `path: "-"`/);
    }
  });

  test("a missing variable is reported at the reference, inside quoted strings too", async () => {
    expect(
      await problems(`version: 1
name: reviews
source: { use: jsonl, path: "./data/\${DATASET}.jsonl" }
transform:
  body:
    model: \${MODEL}
    messages: []
sinks:
  - use: jsonl
    path: out/\${OUT}.jsonl
`),
    ).toEqual([
      "3:37 source.path: environment variable DATASET is not set",
      "6:12 transform.body.model: environment variable MODEL is not set",
      "10:15 sinks[0].path: environment variable OUT is not set",
    ]);
  });

  test("a password written out in any URL is an inline secret, at the password; references and other text are not", async () => {
    const yaml = `version: 1
name: reviews
provider:
  base_url: https://proxy:pr0xy-pw@proxy.internal/v1
  api_key: \${KEY}
source: { use: jsonl, path: ./in.jsonl }
transform:
  body:
    model: m
    messages: [{ role: user, content: "user:pass@host is no URL; see https://example.com/a:b@c" }]
sinks:
  - { use: jsonl, path: "./out/\${USER_NAME}:\${PW}@x.jsonl" }
  - use: jsonl
    path: >-
      https://a:\${PW}@host/x
`;
    expect(await problems(yaml, { KEY: "k", USER_NAME: "u", PW: "p" })).toEqual([
      "4:27 provider.base_url: holds a password written out in a URL (hidden here): it must come from the environment",
    ]);
    const dir = writeFiles({ "pipeline.yaml": yaml });
    const env = { KEY: "k", USER_NAME: "u", PW: "p" };
    const allowed = await loadPipeline(join(dir, "pipeline.yaml"), {
      env,
      builtins,
      allowInlineSecrets: true,
    });
    expect(allowed.provider.options).toMatchObject({ base_url: "https://proxy:pr0xy-pw@proxy.internal/v1" });
  });

  test("unknown keys everywhere are reported at the key, with the closest valid key", async () => {
    const dir = writeFiles({
      "pipeline.yaml": `version: 1
name: reviews
sorce: { use: jsonl, path: ./in.jsonl }
transform:
  endpont: /v1/embeddings
  body: { model: m, input: "{{ text }}" }
sinks:
  - { use: jsonl, pth: ./out.jsonl }
`,
    });
    const error = await loadPipeline(join(dir, "pipeline.yaml"), { env: {}, builtins }).catch(
      (thrown) => thrown,
    );
    expect(
      (error.details as SpecIssueError[]).map((detail) => [
        `${detail.loc?.line}:${detail.loc?.column} ${detail.path}: ${detail.message}`,
        detail.message.startsWith("unknown key") ? detail.hint : undefined,
      ]),
    ).toEqual([
      ["1:1 source: is required (expected a mapping)", undefined],
      ['3:1 sorce: unknown key "sorce"', 'did you mean "source"?'],
      ['5:3 transform.endpont: unknown key "endpont"', 'did you mean "endpoint"?'],
      ["6:3 transform.body.messages: is required for /v1/chat/completions", undefined],
      ["8:5 sinks[0].path: is required (expected a string)", undefined],
      ['8:19 sinks[0].pth: unknown key "pth"', 'did you mean "path"?'],
    ]);
  });

  test("a misspelt provider gets a suggestion; the name must be a slug", async () => {
    const dir = writeFiles({
      "pipeline.yaml": minimal.replace("name: reviews", "name: ../etc").concat("provider: { use: opneai }\n"),
    });
    const error = await loadPipeline(join(dir, "pipeline.yaml"), { env: {}, builtins }).catch(
      (thrown) => thrown,
    );
    expect(
      (error.details as SpecIssueError[]).map((detail) => [detail.path, detail.message, detail.hint]),
    ).toEqual([
      [
        "name",
        "expected a slug: letters, digits, - and _, starting with a letter or digit, at most 64 characters",
        "The work name: keys the run state and the batches' metadata.",
      ],
      [
        "provider.use",
        'cannot find the provider plugin "opneai" (tried the built-ins, @batchpipe/provider-opneai, batchpipe-provider-opneai)',
        'did you mean "openai"?',
      ],
    ]);
  });

  test("a wrong choice names the value written (a typo shows), not only its type", async () => {
    expect(
      await problems(
        minimal
          .replace("path: ./in.jsonl }", "path: ./in.jsonl, on_invalid: skipp }")
          .replace("transform:\n", "transform:\n  endpoint: /v1/chat/completion\n"),
      ),
    ).toEqual([
      '3:53 source.on_invalid: expected "skip_row" or "fail", got "skipp"',
      expect.stringMatching(
        /^5:13 transform.endpoint: expected .*"\/v1\/chat\/completions".*, got "\/v1\/chat\/completion"$/,
      ),
    ]);
  });

  test("an empty sinks list and a wrong version are errors", async () => {
    expect(
      await problems(minimal.replace("version: 1", "version: 2").replace(/sinks: .*/, "sinks: []")),
    ).toEqual(["1:10 version: expected 1 (the only spec version)", "6:8 sinks: expected at least one sink"]);
  });
});

describe("resolvePipeline (the programmatic API)", () => {
  const memorySource = defineSource({
    name: "memory",
    options: z.strictObject({ rows: z.array(z.record(z.string(), z.unknown())) }),
    async *read({ options }) {
      for (const [index, data] of options.rows.entries())
        yield { data, position: { file: "memory", line: index + 1 }, cursor: index };
    },
  });
  const nullSink = (name: string, options: z.ZodType) =>
    defineSink({
      name,
      options,
      async open() {
        return {
          async write() {},
          async commit() {
            return null;
          },
          async close() {},
        };
      },
    });
  const memorySink = nullSink("memory", z.strictObject({}));

  /** every problem of a spec whose only sink is `sink` */
  async function sinkProblems(sink: Record<string, unknown>): Promise<SpecIssueError[]> {
    const spec = {
      version: 1,
      name: "inline",
      source: { use: memorySource, rows: [] },
      transform: { body: { model: "m", messages: [] } },
      sinks: [sink],
    };
    const error = await resolvePipeline(spec, { dir: "/tmp", env: {}, builtins }).catch((thrown) => thrown);
    return error.details;
  }

  test("accepts plugin objects as `use` and named plugins through options.plugins", async () => {
    const pipeline = await resolvePipeline(
      {
        version: 1,
        name: "inline",
        source: { use: memorySource, rows: [{ id: 1, text: "a" }] },
        transform: { body: { model: "m", messages: [] } },
        sinks: [{ use: "memory" }],
        errors: [{ use: memorySink }],
      },
      { dir: "/tmp/somewhere", plugins: { memory: memorySink }, env: {}, builtins },
    );
    expect(pipeline.file).toBeNull();
    expect(pipeline.source.plugin).toBe(memorySource);
    expect(pipeline.source.label).toBe("source (memory)");
    expect(pipeline.sinks[0]!.plugin).toBe(memorySink);
    expect(pipeline.errors[0]!.use).toBe("memory");
    expect(pipeline.resolvePath("x")).toBe("/tmp/somewhere/x");
  });

  test("a plugin whose schema would drop unknown keys (z.object) still gets them reported", async () => {
    const looseSink = nullSink("loose", z.object({ path: z.string() }));
    const problems = await sinkProblems({ use: looseSink, path: "x", paht: "y" });
    expect(problems.map((detail) => [detail.path, detail.message, detail.hint])).toEqual([
      ["sinks[0].paht", 'unknown key "paht"', 'did you mean "path"?'],
    ]);
  });

  test("a plugin whose options schema throws is PLUGIN_INVALID at its `use`, not a crash", async () => {
    const throwing = z.strictObject({}).transform(() => {
      throw new Error("bad transform");
    });
    const problems = await sinkProblems({ use: nullSink("broken", throwing) });
    expect(problems.map((detail) => [detail.code, detail.path, detail.message])).toEqual([
      ["PLUGIN_INVALID", "sinks[0].use", "the options schema of broken threw: bad transform"],
    ]);
  });

  test("reports every problem by path, without positions", async () => {
    const error = await resolvePipeline(
      {
        version: 1,
        name: "inline",
        source: { use: memorySource, rows: "no" },
        sinks: [{ use: memorySink, extra: 1 }],
      },
      { dir: "/tmp", env: {}, builtins },
    ).catch((thrown) => thrown);
    expect(error.code).toBe("SPEC_INVALID");
    expect((error.details as SpecIssueError[]).map((detail) => `${detail.path}: ${detail.message}`)).toEqual([
      "source.rows: expected a list, got a string",
      "transform.body: is required (expected a mapping)",
      'sinks[0].extra: unknown key "extra"',
    ]);
  });
});
