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
  /** input written to a prompt cache (Anthropic); absent: billed at the input price */
  cache_write?: number;
  /** input written to a prompt cache for an hour (Anthropic); absent: at the cache_write price */
  cache_write_1h?: number;
}

export const BATCH_PRICES_DATE = "2026-11-27";

/**
 * Anthropic's Message Batches: 50 % of the list price, and the prompt-cache multipliers stack on
 * the batch price (cache reads 0.1x input, 5-minute cache writes 1.25x input). Source: Anthropic's
 * pricing page (docs.anthropic.com/en/docs/about-claude/pricing: "Batch input/output" and the cache
 * columns), list prices checked on 2026-12-05 against third-party tables: Opus 4.5/4.6 $5/$25, Opus
 * 4/4.1 and 3 $15/$75, Sonnet 3.7/4/4.5/4.6 $3/$15, Haiku 4.5 $1/$5, Haiku 3.5 $0.80/$4, Haiku 3
 * $0.25/$1.25; 1-hour cache writes 2x input. Not modelled: the long-context rate of Sonnet 4/4.5
 * past 200K input tokens.
 */
const CLAUDE_BATCH_PRICES: Readonly<Record<string, ModelPrice>> = {
  "claude-opus-4-6": claude(5, 25),
  "claude-opus-4-5": claude(5, 25),
  "claude-opus-4-1": claude(15, 75),
  "claude-opus-4": claude(15, 75),
  "claude-sonnet-4-6": claude(3, 15),
  "claude-sonnet-4-5": claude(3, 15),
  "claude-sonnet-4": claude(3, 15),
  "claude-3-7-sonnet": claude(3, 15),
  "claude-haiku-4-5": claude(1, 5),
  "claude-3-5-haiku": claude(0.8, 4),
  "claude-3-haiku": claude(0.25, 1.25),
  "claude-3-opus": claude(15, 75),
};

/** a Claude model's batch price from its list price (USD per 1M tokens) */
function claude(input: number, output: number): ModelPrice {
  return {
    input: input / 2,
    output: output / 2,
    cached_input: input / 20,
    cache_write: (input * 1.25) / 2,
    cache_write_1h: (input * 2) / 2,
  };
}

const FREE: ModelPrice = { input: 0, output: 0 };

export const BATCH_PRICES: Readonly<Record<string, ModelPrice>> = {
  "gpt-5": { input: 0.625, output: 5, cached_input: 0.0625 },
  "gpt-5-mini": { input: 0.125, output: 1, cached_input: 0.0125 },
  "gpt-5-nano": { input: 0.025, output: 0.2, cached_input: 0.0025 },
  "gpt-4.1": { input: 1, output: 4, cached_input: 0.25 },
  "gpt-4.1-mini": { input: 0.2, output: 0.8, cached_input: 0.05 },
  "gpt-4.1-nano": { input: 0.05, output: 0.2, cached_input: 0.0125 },
  "gpt-4o": { input: 1.25, output: 5, cached_input: 0.625 },
  // gpt-4o's first snapshot kept its launch price ($5 / $15 list) and has no cached rate
  "gpt-4o-2024-05-13": { input: 2.5, output: 7.5 },
  "gpt-4o-mini": { input: 0.075, output: 0.3, cached_input: 0.0375 },
  o3: { input: 1, output: 4, cached_input: 0.25 },
  "o3-mini": { input: 0.55, output: 2.2, cached_input: 0.275 },
  "o4-mini": { input: 0.55, output: 2.2, cached_input: 0.1375 },
  "text-embedding-3-small": { input: 0.01, output: 0 },
  "text-embedding-3-large": { input: 0.065, output: 0 },
  "text-embedding-ada-002": { input: 0.05, output: 0 },
  // the moderation endpoint is free of charge (OpenAI's pricing page, "Moderation": free)
  "omni-moderation-latest": FREE,
  "omni-moderation": FREE,
  "text-moderation-latest": FREE,
  "text-moderation-stable": FREE,
  "text-moderation-007": FREE,
  ...CLAUDE_BATCH_PRICES,
};

/**
 * The batch price of a model, or null when unknown. Dated snapshots ("gpt-4o-2024-08-06",
 * "gpt-4-0613") and "-latest" aliases ("claude-3-5-haiku-latest") map to their base model, unless
 * the table prices them apart; other variants ("gpt-4o-audio-preview") do not, since they are
 * priced differently.
 */
export function priceFor(
  model: string,
  prices: Readonly<Record<string, ModelPrice>> = BATCH_PRICES,
): ModelPrice | null {
  return modelEntry(prices, model);
}

/** a model's entry in a table by model name: its own, else its base model's (see priceFor); null when absent */
export function modelEntry<T>(table: Readonly<Record<string, T>>, model: string): T | null {
  if (Object.hasOwn(table, model)) return table[model]!;
  const base = model.replace(SNAPSHOT_SUFFIX, "");
  return Object.hasOwn(table, base) ? table[base]! : null;
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
  /** input tokens written to a prompt cache, part of inputTokens too */
  cacheWriteTokens?: number;
  /** of cacheWriteTokens, those written for an hour */
  cacheWrite1hTokens?: number;
  prices?: Readonly<Record<string, ModelPrice>>;
}): number | null {
  const price = priceFor(args.model, args.prices);
  if (!price) return null;
  const cached = Math.min(args.cachedTokens ?? 0, args.inputTokens);
  const written = Math.min(args.cacheWriteTokens ?? 0, args.inputTokens - cached);
  const hour = Math.min(args.cacheWrite1hTokens ?? 0, written);
  const uncached = args.inputTokens - cached - written;
  const cachedRate = price.cached_input ?? price.input;
  const writeRate = price.cache_write ?? price.input;
  const hourRate = price.cache_write_1h ?? writeRate;
  return (
    (uncached * price.input +
      cached * cachedRate +
      (written - hour) * writeRate +
      hour * hourRate +
      args.outputTokens * price.output) /
    1_000_000
  );
}

/**
 * The batch prices a pipeline uses: the table above, with the spec's `pricing:` entries (list
 * prices) turned into batch prices on top. Computed once per spec.
 */
export function pricesFor(
  pricing: Readonly<Record<string, PricingEntry>> | undefined,
): Readonly<Record<string, ModelPrice>> {
  return withSpecPrices(BATCH_PRICES, pricing, (entry) => 1 - entry.batch_discount, batchMemo);
}

/**
 * Live (synchronous API) prices: the built-in batch table undone (batch is half the list price for
 * every model in it), with the spec's `pricing:` list prices as given.
 */
export function livePricesFor(
  pricing: Readonly<Record<string, PricingEntry>> | undefined,
): Readonly<Record<string, ModelPrice>> {
  return withSpecPrices(LIVE_PRICES, pricing, () => 1, liveMemo);
}

/** `price` times `factor`, every kind of token */
function scaled(price: ModelPrice, factor: number): ModelPrice {
  const out: ModelPrice = { input: price.input * factor, output: price.output * factor };
  if (price.cached_input !== undefined) out.cached_input = price.cached_input * factor;
  if (price.cache_write !== undefined) out.cache_write = price.cache_write * factor;
  if (price.cache_write_1h !== undefined) out.cache_write_1h = price.cache_write_1h * factor;
  return out;
}

const LIVE_PRICES: Readonly<Record<string, ModelPrice>> = Object.fromEntries(
  Object.entries(BATCH_PRICES).map(([model, price]) => [model, scaled(price, 2)]),
);
const batchMemo = new WeakMap<object, Readonly<Record<string, ModelPrice>>>();
const liveMemo = new WeakMap<object, Readonly<Record<string, ModelPrice>>>();

/** `table` with the spec's entries on top, each scaled by `factor(entry)`; one per spec */
function withSpecPrices(
  table: Readonly<Record<string, ModelPrice>>,
  pricing: Readonly<Record<string, PricingEntry>> | undefined,
  factor: (entry: PricingEntry) => number,
  memo: WeakMap<object, Readonly<Record<string, ModelPrice>>>,
): Readonly<Record<string, ModelPrice>> {
  if (!pricing || Object.keys(pricing).length === 0) return table;
  let prices = memo.get(pricing);
  if (!prices) {
    const own: Record<string, ModelPrice> = { ...table };
    for (const [model, entry] of Object.entries(pricing))
      own[model] = scaled(withCacheWrites(entry), factor(entry));
    prices = own;
    memo.set(pricing, prices);
  }
  return prices;
}

/**
 * A spec's list price with Anthropic's prompt-cache write rates (1.25x the input price, 2x for an
 * hour): only Anthropic reports cache writes, so they apply to no other provider's requests.
 */
function withCacheWrites(entry: PricingEntry): ModelPrice {
  const price: ModelPrice = { input: entry.input, output: entry.output };
  if (entry.cached_input !== undefined) price.cached_input = entry.cached_input;
  price.cache_write = entry.input * 1.25;
  price.cache_write_1h = entry.input * 2;
  return price;
}

/** "-2024-08-06", "-0613", Anthropic's "-20250929" or its "-latest" aliases at the end of a model name */
const SNAPSHOT_SUFFIX = /-(\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|latest)$/;

/** the estimated cost of one request of a run (USD), for shards that mix models; 0 when unknown */
export function averageCost(
  totals: { estimatedCost: number | null; requests: number } | null | undefined,
): number {
  if (!totals || totals.estimatedCost === null || totals.requests === 0) return 0;
  return totals.estimatedCost / totals.requests;
}

/**
 * A shard's estimated cost (USD) at `prices`; a shard that mixes models (model "") costs the run's
 * average per request. Null when a price is unknown.
 */
export function shardCost(
  shard: { model: string; requests: number; tokens: number; outputTokens: number },
  totals: { estimatedCost: number | null; requests: number } | null | undefined,
  prices: Readonly<Record<string, ModelPrice>>,
): number | null {
  if (shard.model === "") return totals?.estimatedCost == null ? null : averageCost(totals) * shard.requests;
  return estimateCost({
    model: shard.model,
    inputTokens: shard.tokens,
    outputTokens: shard.outputTokens,
    prices,
  });
}
