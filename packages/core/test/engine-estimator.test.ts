import { afterEach, describe, expect, it } from "vitest";
import { png } from "../../batchpipe/test/support/media-bytes.js";
import { createEstimator, type TokenEstimator } from "../src/engine/read/estimator.js";
import { type EncodingName, holdEncodings, loadEncoding, loadedEncodings } from "../src/estimate/encoding.js";
import { estimateRequestTokens } from "../src/estimate/index.js";

const chat = (model: string, text: string) => ({
  custom_id: "x",
  url: "/v1/chat/completions",
  body: { model, messages: [{ role: "user", content: text }] },
});

const estimators: TokenEstimator[] = [];
const open = (...args: Parameters<typeof createEstimator>) => {
  const estimator = createEstimator(...args);
  estimators.push(estimator);
  return estimator;
};

/** build the tables beforehand; the returned function lets go of this hold once the estimator has its own */
const warm = (name: EncodingName) => {
  const release = holdEncodings();
  loadEncoding(name);
  return release;
};

afterEach(() => {
  for (const estimator of estimators.splice(0)) estimator.close();
});

describe("the read's token estimator", () => {
  it("holds the tokenizer tables while it calibrates and lets go once every model is calibrated", () => {
    const release = warm("o200k_base");
    const estimator = open(undefined);
    estimator.estimate("gpt-4o-mini", chat("gpt-4o-mini", "How was the kettle?"));
    release();
    expect(loadedEncodings()).toEqual(["o200k_base"]);
    // a second model begins its calibration before the first ends: the tables stay for it
    estimator.estimate("gpt-4o", chat("gpt-4o", "And the lamp?"));
    for (let i = 1; i < 500; i++)
      estimator.estimate("gpt-4o-mini", chat("gpt-4o-mini", `Review ${i}: fine.`));
    expect(loadedEncodings()).toEqual(["o200k_base"]);
    for (let i = 1; i < 500; i++) estimator.estimate("gpt-4o", chat("gpt-4o", `Review ${i}: fine.`));
    expect(loadedEncodings()).toEqual([]);
    // past the calibration the fast count is scaled: no tables needed
    const later = estimator.estimate("gpt-4o-mini", chat("gpt-4o-mini", "Review 600: fine."));
    expect(later).toBeGreaterThan(0);
    expect(loadedEncodings()).toEqual([]);
    expect(estimator.state().calibration.map(([model, c]) => [model, c.n])).toEqual([
      ["gpt-4o-mini", 500],
      ["gpt-4o", 500],
    ]);
  });

  it("calibrates a model first seen after the others, building the tables again", () => {
    const estimator = open(undefined, {
      calibration: [["gpt-4o-mini", { exact: 5000, fast: 6000, n: 500 }]],
      exactMs: 10,
    });
    expect(estimator.estimate("gpt-4o-mini", chat("gpt-4o-mini", "Fine."))).toBeGreaterThan(0);
    expect(loadedEncodings()).toEqual([]);
    const release = warm("cl100k_base");
    estimator.estimate("gpt-3.5-turbo", chat("gpt-3.5-turbo", "Fine."));
    release();
    expect(loadedEncodings()).toEqual(["cl100k_base"]);
  });

  // the sample was bounded by 1 s of counting (the tables' build included), so it, and `plan`'s
  // estimate, changed with the machine's load: 500 requests of ~1,000 tokens were all counted on a
  // quiet machine, fewer on a busy one
  it("calibrates on a sample bounded by tokens, the same however busy the machine is", () => {
    const estimator = open(undefined);
    const text = Array.from({ length: 700 }, (_, i) => `word${i % 50}`).join(" ");
    const fast = estimator.estimate("gpt-4o-mini", chat("gpt-4o-mini", text));
    for (let i = 1; i < 600; i++) estimator.estimate("gpt-4o-mini", chat("gpt-4o-mini", text));
    const [[, c]] = estimator.state().calibration as [[string, { n: number; fast: number }]];
    // 300,000 tokens of the fast count: the request that reaches them is the last one counted
    expect(c.n).toBe(Math.ceil(300_000 / (c.fast / c.n)));
    expect(c.n).toBeLessThan(500);
    expect(fast).toBeGreaterThan(0);
    expect(loadedEncodings()).toEqual([]);
  });

  it("calibrates the text alone: an image's tokens (from its header) are neither scaled nor scale the text", () => {
    const image = `data:image/png;base64,${png(1024, 1024).toString("base64")}`;
    const withImage = (text: string) => ({
      custom_id: "x",
      url: "/v1/chat/completions",
      body: {
        model: "gpt-4o",
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text },
              { type: "image_url", image_url: { url: image } },
            ],
          },
        ],
      },
    });
    const review = (i: number) =>
      `Review ${i}: the kettle boils fast, the lid is stiff, and the handle gets warm after a while.`;
    // a sample of text alone, then a request with an image: the image keeps its 765 tokens
    const textFirst = open(undefined);
    for (let i = 0; i < 500; i++) textFirst.estimate("gpt-4o", chat("gpt-4o", review(i)));
    const [[, c]] = textFirst.state().calibration as [[string, { exact: number; fast: number }]];
    expect(c.exact / c.fast).toBeLessThan(0.95); // the fast count errs high on text
    const request = withImage(review(501));
    const textTokens = estimateRequestTokens(request, { mode: "exact" }) - 765;
    const estimate = textFirst.estimate("gpt-4o", request);
    expect(estimate).toBeGreaterThanOrEqual(765 + textTokens);
    expect(estimate - 765).toBeLessThan(estimateRequestTokens(request, { mode: "fast" }) - 765 + 1);
    // a sample of images: the text of later requests is still scaled as text
    const imagesFirst = open(undefined);
    for (let i = 0; i < 500; i++) imagesFirst.estimate("gpt-4o", withImage(review(i)));
    const [[, d]] = imagesFirst.state().calibration as [[string, { exact: number; fast: number }]];
    expect(d.exact / d.fast).toBeCloseTo(c.exact / c.fast, 2);
  });

  it("holds the tables until closed when every estimate is exact", () => {
    const estimator = open("exact");
    for (let i = 0; i < 600; i++) estimator.estimate("gpt-4o", chat("gpt-4o", `Review ${i}: fine.`));
    expect(loadedEncodings()).toEqual(["o200k_base"]);
    estimator.close();
    expect(loadedEncodings()).toEqual([]);
  });
});
