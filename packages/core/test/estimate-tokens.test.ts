import { createRequire } from "node:module";
import { countTokens as cl100k } from "gpt-tokenizer/encoding/cl100k_base";
import { countTokens as o200k } from "gpt-tokenizer/encoding/o200k_base";
import { describe, expect, it } from "vitest";
import { readRanks } from "../src/estimate/encoding.js";
import {
  encodingForModel,
  estimateOutputTokens,
  estimateRequestTokens,
  fastTokenCount,
} from "../src/estimate/index.js";

const EXACT = { mode: "exact" } as const;

const chat = (model: string, messages: unknown[], extra: Record<string, unknown> = {}) => ({
  url: "/v1/chat/completions",
  body: { model, messages, ...extra },
});

describe("estimateRequestTokens (exact)", () => {
  it("counts a one-message chat as OpenAI bills it (8 tokens for 'Hello')", () => {
    expect(estimateRequestTokens(chat("gpt-4o-mini", [{ role: "user", content: "Hello" }]), EXACT)).toBe(8);
  });

  it("sums messages with 3 tokens of framing each, plus 3 for the reply", () => {
    const system = "You are a careful assistant that answers in one sentence.";
    const user = "Summarise the plot of Hamlet, including the ending, for a ten-year-old.";
    const expected = 3 + (3 + o200k("system") + o200k(system)) + (3 + o200k("user") + o200k(user));
    const line = chat("gpt-4.1", [
      { role: "system", content: system },
      { role: "user", content: user },
    ]);
    expect(estimateRequestTokens(line, EXACT)).toBe(expected);
  });

  it("counts text parts like string content and adds a fixed cost per image", () => {
    const asString = estimateRequestTokens(chat("gpt-4o", [{ role: "user", content: "a b c d e f" }]), EXACT);
    const asParts = estimateRequestTokens(
      chat("gpt-4o", [
        {
          role: "user",
          content: [
            { type: "text", text: "a b c" },
            { type: "text", text: " d e f" },
          ],
        },
      ]),
      EXACT,
    );
    expect(asParts).toBe(asString);
    const withImage = estimateRequestTokens(
      chat("gpt-4o", [
        {
          role: "user",
          content: [{ type: "image_url", image_url: { url: "https://x/y.png", detail: "low" } }],
        },
      ]),
      EXACT,
    );
    expect(withImage).toBe(3 + 3 + o200k("user") + 85);
  });

  it("uses cl100k_base for older models and embeddings, o200k_base for newer ones", () => {
    expect(encodingForModel("text-embedding-3-small")).toBe("cl100k_base");
    expect(encodingForModel("gpt-4-0613")).toBe("cl100k_base");
    expect(encodingForModel("gpt-3.5-turbo")).toBe("cl100k_base");
    for (const m of [
      "gpt-4o",
      "gpt-4o-mini-2024-07-18",
      "gpt-4.1-nano",
      "gpt-5-mini",
      "o3",
      "o4-mini",
      "unknown",
    ]) {
      expect(encodingForModel(m)).toBe("o200k_base");
    }
    const text = "Die Katze sitzt auf der Matte. 猫がマットの上に座っています。 Кошка сидит на коврике.";
    expect(cl100k(text)).not.toBe(o200k(text));
    const line = { url: "/v1/embeddings", body: { model: "text-embedding-3-small", input: text } };
    expect(estimateRequestTokens(line, EXACT)).toBe(cl100k(text));
  });

  it("counts embedding inputs: a string, strings, and token arrays", () => {
    const body = { model: "text-embedding-3-large", input: ["one two", "three"] };
    expect(estimateRequestTokens({ url: "/v1/embeddings", body }, EXACT)).toBe(
      cl100k("one two") + cl100k("three"),
    );
    const tokens = { model: "text-embedding-3-large", input: [[1, 2, 3], [4]] };
    expect(estimateRequestTokens({ url: "/v1/embeddings", body: tokens }, EXACT)).toBe(4);
    expect(
      estimateRequestTokens({ url: "/v1/embeddings", body: { model: "x", input: [5, 6, 7] } }, EXACT),
    ).toBe(3);
  });

  it("counts responses input (string or items) and instructions, and completions prompts", () => {
    const asString = estimateRequestTokens(
      {
        url: "/v1/responses",
        body: { model: "gpt-5", input: "Hi there" },
      },
      EXACT,
    );
    expect(asString).toBe(o200k("Hi there") + 6);
    const items = estimateRequestTokens(
      {
        url: "/v1/responses",
        body: {
          model: "gpt-5",
          instructions: "Be brief.",
          input: [{ role: "user", content: [{ type: "input_text", text: "Hi there" }] }],
        },
      },
      EXACT,
    );
    expect(items).toBe(o200k("Be brief.") + 3 + 3 + 3 + o200k("user") + o200k("Hi there"));
    const completion = estimateRequestTokens(
      {
        url: "/v1/completions",
        body: { model: "gpt-3.5-turbo-instruct", prompt: "Once upon a time" },
      },
      EXACT,
    );
    expect(completion).toBe(cl100k("Once upon a time"));
  });

  it("counts tools and response formats as input", () => {
    const messages = [{ role: "user", content: "Weather in Paris?" }];
    const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }];
    const plain = estimateRequestTokens(chat("gpt-4o", messages), EXACT);
    expect(estimateRequestTokens(chat("gpt-4o", messages, { tools }), EXACT)).toBe(
      plain + o200k(JSON.stringify(tools)),
    );
  });

  it("treats special-token text in user data as plain text instead of throwing", () => {
    const line = chat("gpt-4o", [{ role: "user", content: "the string <|endoftext|> appears in my data" }]);
    expect(estimateRequestTokens(line, EXACT)).toBeGreaterThan(10);
  });

  it("falls back to the serialised body for endpoints it does not know", () => {
    const line = { url: "/v1/images/generations", body: { model: "gpt-image-1", prompt: "a cat" } };
    expect(estimateRequestTokens(line, EXACT)).toBe(o200k(JSON.stringify(line.body)));
  });
});

describe("estimateRequestTokens (fast)", () => {
  const english =
    "Batch processing lets you send many requests at once and collect the answers within a day, at half the price.";
  it("overestimates English by a modest margin", () => {
    const line = chat("gpt-4o-mini", [{ role: "user", content: english.repeat(5) }]);
    const exact = estimateRequestTokens(line, EXACT);
    const fast = estimateRequestTokens(line);
    expect(fast).toBeGreaterThanOrEqual(exact);
    expect(fast).toBeLessThan(exact * 1.6);
  });

  it("stays within 0.85–1.8× of the exact count across scripts, code and JSON, in both encodings", () => {
    const samples = {
      english,
      code: "function add(a, b) { return a + b; }\nconst xs = [1, 2, 3].map((x) => add(x, 1));\n",
      json: JSON.stringify({ id: 12345, name: "Widget Pro", tags: ["a", "b"], price: 19.99, ok: true }),
      german: "Die Stapelverarbeitung sendet viele Anfragen auf einmal und sammelt die Antworten ein.",
      chinese: "批处理可以一次发送许多请求并在一天内收集答案价格减半。",
      russian: "Пакетная обработка отправляет много запросов сразу и собирает ответы в течение дня.",
      arabic: "ترسل المعالجة المجمعة العديد من الطلبات دفعة واحدة وتجمع الإجابات خلال يوم واحد.",
      emoji: "Great job 🎉🎉 thanks 🙏 see you 👋",
    };
    for (const [name, text] of Object.entries(samples)) {
      const long = text.repeat(10);
      for (const [encoding, exact] of [
        ["o200k_base", o200k(long)],
        ["cl100k_base", cl100k(long)],
      ] as const) {
        const ratio = fastTokenCount(long, encoding) / exact;
        expect(ratio, `${name} ${encoding}`).toBeGreaterThan(0.85);
        expect(ratio, `${name} ${encoding}`).toBeLessThan(1.8);
      }
    }
  });
});

describe("estimateOutputTokens", () => {
  it("uses the request's cap, else a default guess, and 0 for embeddings", () => {
    expect(estimateOutputTokens({ model: "gpt-4o", max_tokens: 100 })).toBe(100);
    expect(estimateOutputTokens({ model: "gpt-5", max_completion_tokens: 2000 })).toBe(2000);
    expect(estimateOutputTokens({ model: "gpt-5", max_output_tokens: 300 }, { url: "/v1/responses" })).toBe(
      300,
    );
    expect(estimateOutputTokens({ model: "gpt-4o", messages: [] })).toBe(256);
    expect(estimateOutputTokens({ model: "gpt-4o" }, { defaultOutputTokens: 50 })).toBe(50);
    expect(estimateOutputTokens({ model: "gpt-4o", max_tokens: 100, n: 3 })).toBe(300);
    expect(estimateOutputTokens({ model: "text-embedding-3-small", input: "x" })).toBe(0);
    expect(estimateOutputTokens({ model: "anything", input: "x" }, { url: "/v1/embeddings" })).toBe(0);
  });
});

describe("the tokenizer tables read from gpt-tokenizer's rank files", () => {
  it.each(["o200k_base", "cl100k_base"] as const)(
    "%s: the same ranks as gpt-tokenizer's own table",
    (name) => {
      const own = createRequire(import.meta.url)(`gpt-tokenizer/cjs/bpeRanks/${name}`) as {
        default: (string | number[])[];
      };
      expect(readRanks(name)).toEqual(own.default);
    },
  );
});
