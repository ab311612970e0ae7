import { join } from "node:path";
import { Liquid } from "liquidjs";
import { describe, expect, test } from "vitest";
import { officialPlugins, writeFiles } from "../../batchpipe/test/support/harness.js";
import { type BatchpipeError, loadPipeline, promptTransform, type SpecIssueError } from "../src/index.js";
import type { SourceRecord, TransformHandle } from "../src/plugin.js";

async function create(options: Record<string, unknown>): Promise<TransformHandle> {
  const parsed = promptTransform.options.parse(options);
  return promptTransform.create({
    options: parsed,
    resolvePath: (p) => p,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    signal: new AbortController().signal,
  });
}

const record = (data: Record<string, unknown>, line = 1): SourceRecord => ({
  data,
  position: { file: "/data/in.jsonl", line },
  cursor: line,
});

function failure(handle: TransformHandle, data: Record<string, unknown>): BatchpipeError {
  try {
    handle.toRequest(record(data, 7));
  } catch (error) {
    return error as BatchpipeError;
  }
  return expect.unreachable("the record rendered");
}

describe("the prompt transform", () => {
  test("renders chat completions, embeddings, responses, completions and moderations requests", async () => {
    const data = { id: 42, text: "great product", tokens: [1, 2, 3] };
    const requests = [];
    for (const [endpoint, body] of [
      [
        "/v1/chat/completions",
        { model: "gpt-4o-mini", messages: [{ role: "user", content: "Rate: {{ text }}" }] },
      ],
      ["/v1/embeddings", { model: "text-embedding-3-small", input: "{{ text }}" }],
      ["/v1/responses", { model: "gpt-4.1-mini", input: "Summarise: {{ text | upcase }}" }],
      ["/v1/completions", { model: "gpt-3.5-turbo-instruct", prompt: "{{ text }} ->", max_tokens: 5 }],
      ["/v1/moderations", { model: "omni-moderation-latest", input: "{{ text }}" }],
    ] as const) {
      requests.push((await create({ endpoint, body })).toRequest(record(data)));
    }
    expect(requests).toEqual([
      {
        custom_id: "42",
        url: "/v1/chat/completions",
        body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "Rate: great product" }] },
      },
      {
        custom_id: "42",
        url: "/v1/embeddings",
        body: { model: "text-embedding-3-small", input: "great product" },
      },
      {
        custom_id: "42",
        url: "/v1/responses",
        body: { model: "gpt-4.1-mini", input: "Summarise: GREAT PRODUCT" },
      },
      {
        custom_id: "42",
        url: "/v1/completions",
        body: { model: "gpt-3.5-turbo-instruct", prompt: "great product ->", max_tokens: 5 },
      },
      {
        custom_id: "42",
        url: "/v1/moderations",
        body: { model: "omni-moderation-latest", input: "great product" },
      },
    ]);
  });

  test("a string that is exactly one {{ expr }} keeps the value's type; other strings render to strings", async () => {
    const handle = await create({
      endpoint: "/v1/embeddings",
      id: "doc-{{ doc.id }}",
      body: {
        model: "m",
        input: "{{ tokens }}",
        first: "{{ tokens | first }}",
        dimensions: "{{- dims -}}",
        meta: "{{ doc }}",
        flag: "{{ flag }}",
        label: "n={{ dims }}",
      },
    });
    const request = handle.toRequest(record({ tokens: [5, 6], dims: 256, doc: { id: "x" }, flag: false }));
    expect(request).toEqual({
      custom_id: "doc-x",
      url: "/v1/embeddings",
      body: {
        model: "m",
        input: [5, 6],
        first: 5,
        dimensions: 256,
        meta: { id: "x" },
        flag: false,
        label: "n=256",
      },
    });
  });

  test("a missing variable fails that record with template_error, naming the variable and the record", async () => {
    const handle = await create({
      body: { model: "m", messages: [{ role: "user", content: "{{ text }}" }] },
    });
    const error = failure(handle, { id: "r1" });
    expect([error.code, error.recordId, error.message, error.hint]).toEqual([
      "template_error",
      "r1",
      'undefined variable "text" in body.messages[0].content (record at /data/in.jsonl:7)',
      'the record has no field "text": fix the data, or write {{ text | default: "..." }}',
    ]);
    // the next record renders: one failure does not poison the handle
    expect(handle.toRequest(record({ id: "r2", text: "ok" })).custom_id).toBe("r2");
  });

  test("a missing or empty id fails the record without an id", async () => {
    const handle = await create({ body: { model: "m", messages: [] } });
    expect([failure(handle, { text: "x" }).message, failure(handle, { text: "x" }).recordId]).toEqual([
      'undefined variable "id" in id (record at /data/in.jsonl:7)',
      undefined,
    ]);
    expect(failure(handle, { id: "" }).message).toBe(
      "id failed to render: the id rendered empty (record at /data/in.jsonl:7)",
    );
    expect(failure(handle, { id: ["a"] }).message).toBe(
      "id failed to render: the id rendered to a list (record at /data/in.jsonl:7)",
    );
  });

  test("an id from an integer past 2^53 − 1 fails its record (JSON.parse had rounded it: it named another record)", async () => {
    // 9007199254740993 in the source arrives as 9007199254740992
    const big = JSON.parse('{"id": 9007199254740993}').id as number;
    for (const id of ["{{ id }}", "doc-{{ id }}"]) {
      const handle = await create({ id, body: { model: "m", messages: [] } });
      const error = failure(handle, { id: big });
      expect([error.code, error.message]).toEqual([
        "template_error",
        expect.stringContaining("the id uses the number 9007199254740992, past 2^53 − 1"),
      ]);
      expect(error.message).toContain(
        'Write the ids as strings in the source (e.g. "id": "9007199254740993")',
      );
      // exact integers, and the same digits as text, render as before
      expect(handle.toRequest(record({ id: 9007199254740991 })).custom_id).toMatch(/9007199254740991$/);
      expect(handle.toRequest(record({ id: "9007199254740993" })).custom_id).toMatch(/9007199254740993$/);
    }
  });

  test("`| default:` and {% if %} accept a missing variable; nested missing properties fail", async () => {
    const handle = await create({
      body: {
        model: "m",
        messages: [
          { role: "user", content: "{{ title | default: 'untitled' }}{% if note %} ({{ note }}){% endif %}" },
        ],
        user: "{{ author.name }}",
      },
    });
    expect(handle.toRequest(record({ id: 1, author: { name: "ann" } })).body.messages).toEqual([
      { role: "user", content: "untitled" },
    ]);
    expect(failure(handle, { id: 2, author: {} }).message).toBe(
      'undefined variable "author.name" in body.user (record at /data/in.jsonl:7)',
    );
  });

  test("constant parts of the body are shared between requests and frozen", async () => {
    const handle = await create({
      body: {
        model: "m",
        response_format: { type: "json_schema", json_schema: { name: "x" } },
        messages: [{ role: "user", content: "{{ text }}" }],
      },
    });
    const a = handle.toRequest(record({ id: 1, text: "a" }));
    const b = handle.toRequest(record({ id: 2, text: "b" }));
    expect(a.body.response_format).toBe(b.body.response_format);
    expect(Object.isFrozen(a.body.response_format)).toBe(true);
    expect(a.body.messages).not.toBe(b.body.messages);
  });

  test("template syntax errors, unknown filters and missing body keys are spec errors at their position", async () => {
    const dir = writeFiles({
      "pipeline.yaml": `version: 1
name: broken-templates
source: { use: jsonl, path: in.jsonl }
transform:
  endpoint: /v1/embeddings
  id: "{{ id | nope }}"
  body:
    model: m
    dimensions: "{{ dims "
sinks: [{ use: jsonl, path: out.jsonl }]
`,
    });
    const error = await loadPipeline(join(dir, "pipeline.yaml"), {
      env: {},
      builtins: officialPlugins,
    }).catch((thrown) => thrown);
    expect(
      (error.details as SpecIssueError[]).map(
        (detail) => `${detail.loc?.line}:${detail.loc?.column} ${detail.path}: ${detail.message}`,
      ),
    ).toEqual([
      "6:7 transform.id: invalid template: undefined filter: nope",
      "7:3 transform.body.input: is required for /v1/embeddings",
      '9:17 transform.body.dimensions: invalid template: output "{{ dims " not closed',
    ]);
  });

  test("an output of a literal that renders nothing ({{ empty }}, {{ nil }}) is refused at its place: a field of that name was lost", async () => {
    const dir = writeFiles({
      "pipeline.yaml": `version: 1
name: literal-outputs
source: { use: jsonl, path: in.jsonl }
transform:
  body:
    model: m
    messages:
      - { role: user, content: "Is it {{ empty }}? {{ nil | default: 'x' }} {{blank.a}}" }
    user: "{% if note == empty %}{{ true }}{% endif %}{{ empty_box }}"
sinks: [{ use: jsonl, path: out.jsonl }]
`,
    });
    const error = await loadPipeline(join(dir, "pipeline.yaml"), {
      env: {},
      builtins: officialPlugins,
    }).catch((thrown) => thrown);
    expect(
      (error.details as SpecIssueError[]).map(
        (detail) => `${detail.loc?.line}:${detail.loc?.column} ${detail.path}: ${detail.message}`,
      ),
    ).toEqual([
      '8:32 transform.body.messages[0].content: {{ empty }} outputs Liquid\'s literal `empty` (always nothing), not the record\'s field "empty": for that field write {{ ["empty"] }}',
      "8:32 transform.body.messages[0].content: {{ nil | default: 'x' }} outputs Liquid's literal `nil` (always nothing), not the record's field \"nil\": for that field write {{ [\"nil\"] }}",
      '8:32 transform.body.messages[0].content: {{blank.a}} outputs Liquid\'s literal `blank` (always nothing), not the record\'s field "blank": for that field write {{ ["blank"] }}',
    ]);
  });

  test("renders exactly what LiquidJS renders, on the fast path and off it", async () => {
    const reference = new Liquid({
      strictVariables: true,
      strictFilters: true,
      lenientIf: true,
      ownPropertyOnly: true,
    });
    const templates = [
      "{{ s }} and {{ n }}, {{ f }}, {{ b }}, [{{ z }}], {{ neg }}, {{ big }}",
      "{{ o.k }} / {{ deep.x.y }}",
      "{{s}}{{n}}",
      "{{ s.size }} {{ a.first }} {{ a[1] }}",
      "{{- s -}} x {{ s | upcase }}",
      "{% for t in a %}{{ t }};{% endfor %}",
      "no template here",
      "{{ 'literal' }} {{ 3 }}",
    ];
    const data = {
      s: "text",
      n: 42,
      f: 1.5,
      b: true,
      z: null,
      neg: -0,
      big: 1e21,
      a: [1, "x"],
      o: { k: "v" },
      deep: { x: { y: 0 } },
    };
    const body = Object.fromEntries(templates.map((template, index) => [`t${index}`, template]));
    const handle = await create({ endpoint: "/v1/embeddings", body: { model: "m", input: "x", ...body } });
    const rendered = handle.toRequest(record({ id: 1, ...data })).body;
    for (const [index, template] of templates.entries())
      expect(rendered[`t${index}`], template).toBe(
        reference.parseAndRenderSync(template, { id: 1, ...data }),
      );
  });

  // LiquidJS's own output differs here: "[object Object]", an array's items run together ("1x"),
  // and `date` in the host's time zone (the same data asked another question on another machine,
  // and the result cache, keyed by the request, missed)
  test("objects and arrays inside text render as JSON; `date` shows UTC whatever the host's time zone", async () => {
    const handle = await create({
      endpoint: "/v1/embeddings",
      body: {
        model: "m",
        input: "{{ o }} / {{ a }} / {{ a | join: ', ' }} / {{ o.k }} / {{ z }}",
        day: "{{ day | date: '%Y-%m-%d %a' }}",
        at: "{{ at | date: '%Y-%m-%d %H:%M' }}",
        zoned: "{{ zoned | date: '%Y-%m-%d %H:%M' }}",
      },
    });
    const data = {
      id: 1,
      o: { k: "v", n: [1] },
      a: [1, "x"],
      z: null,
      day: "2024-01-15",
      at: "2024-01-15 23:30",
      zoned: "2024-01-15T10:00:00+05:00",
    };
    const was = process.env.TZ;
    try {
      for (const tz of ["UTC", "America/New_York", "Asia/Kolkata"]) {
        process.env.TZ = tz;
        expect(handle.toRequest(record(data)).body, tz).toEqual({
          model: "m",
          input: '{"k":"v","n":[1]} / [1,"x"] / 1, x / v / ',
          day: "2024-01-15 Mon",
          at: "2024-01-15 23:30",
          zoned: "2024-01-15 05:00",
        });
      }
    } finally {
      if (was === undefined) delete process.env.TZ;
      else process.env.TZ = was;
    }
  });

  test("an unknown endpoint is rejected with the valid ones", () => {
    const parsed = promptTransform.options.safeParse({
      endpoint: "/v1/chat",
      body: { model: "m", messages: [] },
    });
    expect(parsed.success).toBe(false);
  });
});
