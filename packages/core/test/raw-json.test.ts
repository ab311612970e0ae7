import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { officialPlugins } from "../../batchpipe/test/support/harness.js";
import { extractOutput, toUsage } from "../src/engine/classify.js";
import { bodyJson, buildSuccessRow, metaJson, splitResultLine, usageJson } from "../src/engine/collect.js";
import { fieldToJson, rowToJson } from "../src/plugin.js";
import { compactJson, memberJson } from "../src/raw-json.js";
import { createTestContext } from "../src/testing/index.js";

const jsonlSink = officialPlugins.sink!.jsonl!;

/** Python's json.dumps separators (", " and ": "), as OpenAI writes its output files */
function spaced(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(spaced).join(", ")}]`;
  if (typeof value === "object" && value !== null)
    return `{${Object.entries(value)
      .map(([key, member]) => `${JSON.stringify(key)}: ${spaced(member)}`)
      .join(", ")}}`;
  return JSON.stringify(value);
}

const tricky: Record<string, unknown>[] = [
  {
    id: "chatcmpl-1",
    choices: [{ message: { role: "assistant", content: '{"a":"}{][","b":[1,{"c":"\\"}"}]}' } }],
    usage: {
      prompt_tokens: 5,
      completion_tokens: 7,
      total_tokens: 12,
      prompt_tokens_details: { cached_tokens: 2 },
      completion_tokens_details: { reasoning_tokens: 3 },
    },
  },
  { id: "esc", text: 'quote " backslash \\ slash / tab \t newline \n nul \u0000 end\\' },
  { id: "unicode", text: "é ü 日本語 🎉 \u2028 \u2029", "ключ 🔑": ["é", { "🎉": "🎉" }] },
  { id: "braces", text: '},"error":null}', body: '"body":{"x":1}', more: "]]]}}}" },
  { id: "nested", deep: JSON.parse(`${"[".repeat(16)}{"a":[1,2,{"b":"}"}]}${"]".repeat(16)}`) },
  { id: "numbers", n: [0, -0.5, 1e21, 1.5e-7, 123456789012, -1] },
  { id: "empty", o: {}, a: [], s: "", z: null, t: true, f: false },
];

function line(body: unknown, format: (v: unknown) => string = JSON.stringify, requestId: unknown = "req_1") {
  return format({
    id: "batch_req_1",
    custom_id: 'rec-"1"\\é',
    response: { status_code: 200, request_id: requestId, body },
    error: null,
  });
}

describe("splitResultLine: a result line's body text without a second parse", () => {
  for (const [i, body] of tricky.entries()) {
    for (const [name, format] of [
      ["compact", JSON.stringify],
      ["spaced", spaced],
    ] as const) {
      it(`tricky body ${i} (${body.id}), ${name}: the same value as JSON.parse, compact single-line text`, () => {
        const text = line(body, format);
        const split = splitResultLine(text);
        expect(split).toBeDefined();
        expect(split!.line).toEqual(JSON.parse(text));
        expect(JSON.parse(split!.body)).toEqual(body);
        // the writer's text, with the whitespace between tokens removed
        expect(split!.body).toBe(JSON.stringify(body));
        expect(split!.body).not.toMatch(/[\n\r]/);
        expect(bodyJson(text)).toBe(JSON.stringify(body));
      });
    }
  }

  it("request_id null, escapes in ids: parsed like JSON.parse", () => {
    const text = line({ id: "x" }, JSON.stringify, null);
    expect(splitResultLine(text)!.line).toEqual(JSON.parse(text));
  });

  it("lines it does not take: another layout, an error, a duplicate or escaped key, a broken body", () => {
    const others = [
      // error set
      '{"id":"b","custom_id":"c","response":{"status_code":200,"request_id":"r","body":{"a":1}},"error":{"code":"x"}}',
      // keys in another order
      '{"custom_id":"c","id":"b","response":{"status_code":200,"request_id":"r","body":{"a":1}},"error":null}',
      // a second body key after the first: JSON.parse keeps the last
      '{"id":"b","custom_id":"c","response":{"status_code":200,"request_id":"r","body":{"a":1},"body":{"a":2}},"error":null}',
      // an escaped key
      '{"id":"b","custom_id":"c","response":{"status_code":200,"request_id":"r","b\\u006fdy":{"a":1}},"error":null}',
      // status code spelt as a float
      '{"id":"b","custom_id":"c","response":{"status_code":200.0,"request_id":"r","body":{"a":1}},"error":null}',
    ];
    for (const text of others) {
      expect(splitResultLine(text), text).toBeUndefined();
      // the general scanner finds what JSON.parse finds
      const parsed = JSON.parse(text);
      const body = parsed.response.body ?? parsed.response["b\u006fdy"];
      expect(JSON.parse(bodyJson(text) ?? "null"), text).toEqual(body ?? null);
    }
    // not one JSON value between head and tail: refused, and JSON.parse refuses the line too
    const broken =
      '{"id":"b","custom_id":"c","response":{"status_code":200,"request_id":"r","body":{"a":1}}},"error":null}';
    expect(splitResultLine(broken)).toBeUndefined();
    expect(() => JSON.parse(broken)).toThrow();
  });
});

describe("metaJson: the input and source of a shard meta line", () => {
  it("as read-phase writes it, and in layouts where only the general scanner is sure", () => {
    const input = { id: 'r"1', source: "web", nested: { source: { file: "x", line: 1 } }, text: "é \n" };
    const lines = [
      { id: 'r"1', t: 1, o: 2, r: 3, j: 1, input, source: { file: "/d/a b.jsonl", line: 7 } },
      { id: "r2", t: 1, o: 2, r: 3, input: {}, source: { file: "/d", line: 1, source: { file: "y" } } },
      { id: "r3", t: 1, o: 2, r: 3, source: { file: "/d", line: 1 }, input },
      { id: "r4", t: 1, o: 2, r: 3, input: [1, "]"], source: "not an object" },
    ];
    for (const value of lines) {
      const metaLine = JSON.stringify(value);
      const json = metaJson(metaLine, JSON.parse(metaLine));
      expect(json.input, metaLine).toBe(JSON.stringify(value.input));
      expect(json.source, metaLine).toBe(JSON.stringify(value.source));
    }
  });
});

describe("memberJson and compactJson", () => {
  it("the last duplicate wins, as in JSON.parse; a path through a non-object is absent", () => {
    const text = '{"a":{"b":1},"x":"{\\"a\\":2}","a":{"c":{"d":[1, 2]}}}';
    expect(memberJson(text, ["a"])).toBe('{"c":{"d":[1,2]}}');
    expect(memberJson(text, ["a", "b"])).toBeUndefined();
    expect(memberJson(text, ["a", "c", "d"])).toBe("[1,2]");
    expect(memberJson('{"a":1,"a":{"b":2}}', ["a", "b"])).toBe("2");
    expect(memberJson('{"a":{"b":2},"a":1}', ["a", "b"])).toBeUndefined();
  });

  it("nested deeper than the fast pattern, with whitespace", () => {
    const deep = JSON.parse(`${"[".repeat(40)}{"k": "v } ]"}${"]".repeat(40)}`);
    const text = spaced({ before: 1, input: deep, after: [2] });
    expect(memberJson(text, ["input"])).toBe(JSON.stringify(deep));
    expect(memberJson(JSON.stringify({ input: deep }), ["input"])).toBe(JSON.stringify(deep));
  });

  it("compactJson keeps whitespace inside strings only", () => {
    expect(compactJson(' { "a" : [ 1 , "x y" ] ,\n "b": "\\" " }\n')).toBe('{"a":[1,"x y"],"b":"\\" "}');
    const text = '{"a":"b c"}';
    expect(compactJson(text)).toBe(text);
  });
});

/** a success row as collect.ts builds it from an output line and a shard meta line */
function engineRow(body: Record<string, unknown>, input: Record<string, unknown>, wantsJson = false) {
  const text = line(body);
  const split = splitResultLine(text)!;
  const metaLine = JSON.stringify({
    id: "rec-1",
    t: 1,
    o: 1,
    r: 0,
    input,
    source: { file: "/d.jsonl", line: 3 },
  });
  const meta = JSON.parse(metaLine);
  const response = split.line.response.body as Record<string, unknown>;
  const extracted = extractOutput("/v1/chat/completions", response, wantsJson);
  if (!extracted.ok) throw new Error(extracted.message);
  const usage = toUsage(response.usage);
  return buildSuccessRow(
    {
      id: "rec-1",
      output: extracted.output,
      response,
      usage,
      model: "gpt-4o-mini",
      batch_id: "batch_1",
      attempts: 1,
      input: meta.input,
      source: meta.source,
    },
    {
      output: extracted.json,
      response: split.body,
      usage: usage ? usageJson(usage) : undefined,
      ...metaJson(metaLine, meta),
    },
  );
}

describe("rowToJson and fieldToJson: JSON.stringify(row) from the engine's JSON text", () => {
  const inputs = [
    { id: "rec-1", text: 'tab\t "quoted" \\ é 🎉 \u2028', n: [1, 2.5, null] },
    { nested: { deep: [{ a: "}" }] }, empty: {} },
  ];

  for (const [i, body] of tricky.entries()) {
    it(`tricky row ${i} (${body.id}): the same text as JSON.stringify`, () => {
      const row = engineRow(body, inputs[i % inputs.length]!);
      // the pieces are the engine's, not a stringify in disguise: the symbol holds them
      expect(Object.getOwnPropertySymbols(row)).toHaveLength(1);
      expect(Object.keys(row)).toEqual(Object.keys(JSON.parse(JSON.stringify(row))));
      expect(rowToJson(row)).toBe(JSON.stringify(row));
      expect(fieldToJson(row, "response")).toBe(JSON.stringify(row.response));
      expect(fieldToJson(row, "input")).toBe(JSON.stringify(row.input));
      expect(fieldToJson(row, "usage")).toBe(JSON.stringify(row.usage));
      expect(fieldToJson(row, "source")).toBe(JSON.stringify(row.source));
    });
  }

  it("a JSON output keeps the model's own number spelling: another text, the same value", () => {
    const content = '{"score": 0.50, "tags": ["a", "b"], "big": 1E3}';
    const row = engineRow({ id: "c", choices: [{ message: { content } }] }, { id: "rec-1" }, true);
    expect(row.output).toEqual({ score: 0.5, tags: ["a", "b"], big: 1000 });
    expect(fieldToJson(row, "output")).toBe('{"score":0.50,"tags":["a","b"],"big":1E3}');
    expect(JSON.parse(rowToJson(row))).toEqual(JSON.parse(JSON.stringify(row)));
  });

  it("a field a sink replaced is serialised anew; a plain row is JSON.stringify", () => {
    const row = engineRow(tricky[0]!, inputs[0]!) as unknown as Record<string, unknown>;
    row.response = { replaced: true };
    row.input = { other: "input" };
    expect(rowToJson(row)).toBe(JSON.stringify(row));
    expect(fieldToJson(row, "response")).toBe('{"replaced":true}');
    // a key added or removed: the general path, same text
    row.extra = ["x", undefined, () => 1];
    delete row.model;
    expect(rowToJson(row)).toBe(JSON.stringify(row));
    const plain = {
      id: 'a"b',
      n: Number.NaN,
      u: undefined,
      d: new Date(0),
      s: "\ud800",
      o: Object.assign(Object.create(null), { k: 1 }),
    };
    expect(rowToJson(plain)).toBe(JSON.stringify(plain));
    expect(fieldToJson(plain, "n")).toBe("null");
    expect(fieldToJson(plain, "u")).toBeUndefined();
  });

  it("the pieces are invisible to JSON.stringify, Object.keys, spread and toEqual", () => {
    const row = engineRow(tricky[1]!, inputs[1]!);
    const copy = { ...row };
    expect(Object.getOwnPropertySymbols(copy)).toHaveLength(0);
    expect(row).toEqual(copy);
    expect(JSON.stringify(copy)).toBe(JSON.stringify(row));
  });
});

describe("sink-jsonl writes lines from the engine's JSON text", () => {
  it("each line parses back to its row", async () => {
    const dir = mkdtempSync(join(tmpdir(), "raw-json-"));
    try {
      const rows = tricky.map((body, i) => engineRow(body, { id: `rec-${i}`, text: 'é "q" \n' }));
      const options = jsonlSink.options.parse({ path: "out.jsonl" });
      const handle = await jsonlSink.open({ ...createTestContext(dir, options), checkpoint: undefined });
      await handle.write(rows);
      await handle.commit("k1");
      await handle.close();
      const lines = readFileSync(join(dir, "out.jsonl"), "utf8").split("\n");
      expect(lines.pop()).toBe("");
      expect(lines.map((l) => JSON.parse(l))).toEqual(rows.map((r) => JSON.parse(JSON.stringify(r))));
      expect(lines).toEqual(rows.map((r) => JSON.stringify(r)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
