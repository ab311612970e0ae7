/**
 * Batch prices, USD per 1M tokens (50 % of the list price, DESIGN §4 / reference §3.7).
 *
 * Source: OpenAI's pricing page (developers.openai.com/api/docs/pricing, "Batch" column), as mirrored
 * by third-party price tables checked on 2026-11-27; list prices: gpt-5 $1.25/$10, gpt-4.1 $2/$8,
 * gpt-4o $2.50/$10, o3 $2/$8 (after the June 2025 cut). Prices change: the table is a default that a
 * pipeline can extend or override with `pricing:` (list prices per model, see `pricesFor`), and
 * models known to neither give null, which callers report as "cost unknown".
 *
 * `cached_input` assumes the cache discount stacks with the batch discount (half the list cached
 * rate). Whether OpenAI applies caching to batch jobs is not confirmed (reference §3.7); when a
 * model has no cached price, cached tokens are billed at the input price (an overestimate).
 */
import type { PricingEntry } from "../spec/schema.js";

export interface ModelPrice {
  input: number;
  output: number;
  cached_input?: number;
}

export const BATCH_PRICES_DATE = "2026-11-27";

export const BATCH_PRICES: Readonly<Record<string, ModelPrice>> = {
  "gpt-5": { input: 0.625, output: 5, cached_input: 0.0625 },
  "gpt-5-mini": { input: 0.125, output: 1, cached_input: 0.0125 },
  "gpt-5-nano": { input: 0.025, output: 0.2, cached_input: 0.0025 },
  "gpt-4.1": { input: 1, output: 4, cached_input: 0.25 },
  "gpt-4.1-mini": { input: 0.2, output: 0.8, cached_input: 0.05 },
  "gpt-4.1-nano": { input: 0.05, output: 0.2, cached_input: 0.0125 },
  "gpt-4o": { input: 1.25, output: 5, cached_input: 0.625 },
  "gpt-4o-mini": { input: 0.075, output: 0.3, cached_input: 0.0375 },
  o3: { input: 1, output: 4, cached_input: 0.25 },
  "o3-mini": { input: 0.55, output: 2.2, cached_input: 0.275 },
  "o4-mini": { input: 0.55, output: 2.2, cached_input: 0.1375 },
  "text-embedding-3-small": { input: 0.01, output: 0 },
  "text-embedding-3-large": { input: 0.065, output: 0 },
  "text-embedding-ada-002": { input: 0.05, output: 0 },
};

/**
 * The batch price of a model, or null when unknown. Dated snapshots ("gpt-4o-2024-08-06",
 * "gpt-4-0613") map to their base model; other variants ("gpt-4o-audio-preview") do not, since
 * they are priced differently.
 */
export function priceFor(
  model: string,
  prices: Readonly<Record<string, ModelPrice>> = BATCH_PRICES,
): ModelPrice | null {
  const exact = prices[model];
  if (exact) return exact;
  const base = model.replace(SNAPSHOT_SUFFIX, "");
  return prices[base] ?? null;
}

/**
 * The cost in USD of the given token counts at batch prices; null when the model's price is unknown.
 * `cachedTokens` are part of `inputTokens` (as in the API's usage objects).
 */
export function estimateCost(args: {
  model: string;
  inputTokens: number;
  outputTokens: number;
  cachedTokens?: number;
  prices?: Readonly<Record<string, ModelPrice>>;
}): number | null {
  const price = priceFor(args.model, args.prices);
  if (!price) return null;
  const cached = Math.min(args.cachedTokens ?? 0, args.inputTokens);
  const uncached = args.inputTokens - cached;
  const cachedRate = price.cached_input ?? price.input;
  return (uncached * price.input + cached * cachedRate + args.outputTokens * price.output) / 1_000_000;
}

/**
 * The batch prices a pipeline uses: the table above, with the spec's `pricing:` entries (list
 * prices) turned into batch prices on top. Computed once per spec.
 */
export function pricesFor(
  pricing: Readonly<Record<string, PricingEntry>> | undefined,
): Readonly<Record<string, ModelPrice>> {
  if (!pricing || Object.keys(pricing).length === 0) return BATCH_PRICES;
  let prices = merged.get(pricing);
  if (!prices) {
    const own: Record<string, ModelPrice> = {};
    for (const [model, entry] of Object.entries(pricing)) {
      const factor = 1 - entry.batch_discount;
      own[model] = {
        input: entry.input * factor,
        output: entry.output * factor,
        ...(entry.cached_input === undefined ? {} : { cached_input: entry.cached_input * factor }),
      };
    }
    prices = { ...BATCH_PRICES, ...own };
    merged.set(pricing, prices);
  }
  return prices;
}

const merged = new WeakMap<object, Readonly<Record<string, ModelPrice>>>();

/**
 * Live (synchronous API) prices: the built-in batch table undone (batch is half the list price for
 * every model in it), with the spec's `pricing:` list prices as given.
 */
export function livePricesFor(
  pricing: Readonly<Record<string, PricingEntry>> | undefined,
): Readonly<Record<string, ModelPrice>> {
  const own = pricing ?? {};
  let prices = mergedLive.get(own);
  if (!prices) {
    const live: Record<string, ModelPrice> = {};
    for (const [model, price] of Object.entries(BATCH_PRICES)) {
      live[model] = {
        input: price.input * 2,
        output: price.output * 2,
        ...(price.cached_input === undefined ? {} : { cached_input: price.cached_input * 2 }),
      };
    }
    for (const [model, entry] of Object.entries(own)) {
      const { batch_discount: _discount, ...list } = entry;
      live[model] = list;
    }
    prices = live;
    mergedLive.set(own, prices);
  }
  return prices;
}

const mergedLive = new WeakMap<object, Readonly<Record<string, ModelPrice>>>();

/** "-2024-08-06" or "-0613" at the end of a model name */
const SNAPSHOT_SUFFIX = /-(\d{4}-\d{2}-\d{2}|\d{4})$/;
