import { describe, expect, it } from "vitest";
import { BATCH_PRICES, estimateCost, priceFor } from "../src/estimate/index.js";

describe("priceFor", () => {
  it("knows the common models at batch prices (half of list)", () => {
    expect(priceFor("gpt-4o")).toEqual({ input: 1.25, output: 5, cached_input: 0.625 });
    expect(priceFor("gpt-4o-mini")?.input).toBe(0.075);
    expect(priceFor("gpt-5")?.output).toBe(5);
    expect(priceFor("text-embedding-3-small")).toEqual({ input: 0.01, output: 0 });
    for (const model of [
      "gpt-4o",
      "gpt-4o-mini",
      "gpt-4.1",
      "gpt-4.1-mini",
      "gpt-4.1-nano",
      "gpt-5",
      "gpt-5-mini",
      "gpt-5-nano",
      "o3",
      "o4-mini",
      "text-embedding-3-small",
      "text-embedding-3-large",
    ]) {
      expect(priceFor(model), model).not.toBeNull();
    }
  });

  it("maps dated snapshots to their base model, and nothing else", () => {
    expect(priceFor("gpt-4o-2024-08-06")).toBe(BATCH_PRICES["gpt-4o"]);
    expect(priceFor("gpt-4o-mini-2024-07-18")).toBe(BATCH_PRICES["gpt-4o-mini"]);
    expect(priceFor("gpt-5-nano-2025-08-07")).toBe(BATCH_PRICES["gpt-5-nano"]);
    expect(priceFor("o3-2025-04-16")).toBe(BATCH_PRICES.o3);
    expect(priceFor("gpt-4o-audio-preview")).toBeNull();
    expect(priceFor("my-azure-deployment")).toBeNull();
    expect(priceFor("ft:gpt-4o-mini:org::abc")).toBeNull();
  });

  it("takes an override table", () => {
    expect(priceFor("my-model", { "my-model": { input: 1, output: 2 } })).toEqual({ input: 1, output: 2 });
  });
});

describe("estimateCost", () => {
  it("prices input and output tokens per million", () => {
    expect(
      estimateCost({ model: "gpt-4o-mini", inputTokens: 2_000_000, outputTokens: 1_000_000 }),
    ).toBeCloseTo(0.45, 10);
  });

  it("bills cached tokens (part of the input) at the cached rate, or the input rate when there is none", () => {
    const cost = estimateCost({
      model: "gpt-5",
      inputTokens: 1_000_000,
      outputTokens: 0,
      cachedTokens: 400_000,
    });
    expect(cost).toBeCloseTo(0.6 * 0.625 + 0.4 * 0.0625, 10);
    const none = estimateCost({
      model: "x",
      inputTokens: 1_000_000,
      outputTokens: 0,
      cachedTokens: 1_000_000,
      prices: { x: { input: 2, output: 0 } },
    });
    expect(none).toBeCloseTo(2, 10);
  });

  it("returns null for an unknown model", () => {
    expect(estimateCost({ model: "mystery-1", inputTokens: 10, outputTokens: 10 })).toBeNull();
  });
});

describe("Claude prices", () => {
  it("Claude at batch prices, dated snapshots included, cache reads and writes priced as such", () => {
    // Sonnet 4.5: $3 / $15 list → $1.50 / $7.50 batch; cache read $0.15, 5-minute write $1.875
    const cost = estimateCost({
      model: "claude-sonnet-4-5-20250929",
      inputTokens: 3_000_000,
      outputTokens: 1_000_000,
      cachedTokens: 1_000_000,
      cacheWriteTokens: 1_000_000,
    });
    expect(cost).toBeCloseTo(1.5 + 0.15 + 1.875 + 7.5, 6);
  });
});
