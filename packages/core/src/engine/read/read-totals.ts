/** The read's totals: where they start, and the estimated cost they add up to. */
import { estimateCost, type ModelPrice } from "../../estimate/pricing.js";
import type { RunTotals } from "../../state/index.js";

export function emptyTotals(): RunTotals {
  return {
    read: 0,
    invalid: 0,
    rejected: 0,
    requests: 0,
    identical: 0,
    cached: 0,
    cachedRecords: 0,
    cachedCost: 0,
    cachedUnpriced: 0,
    shards: 0,
    estimatedInputTokens: 0,
    estimatedOutputTokens: 0,
    estimatedCost: null,
  };
}

export function sumCosts(
  byModel: Map<string, { input: number; output: number }>,
  prices: Readonly<Record<string, ModelPrice>>,
): number | null {
  let total = 0;
  for (const [model, tokens] of byModel) {
    const cost = estimateCost({ model, inputTokens: tokens.input, outputTokens: tokens.output, prices });
    if (cost === null) return null;
    total += cost;
  }
  return total;
}
