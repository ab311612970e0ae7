export { type EncodingName, encodingForModel } from "./encoding.js";
export {
  CHAT_MESSAGE_OVERHEAD,
  CHAT_REPLY_PRIMER,
  DEFAULT_OUTPUT_TOKENS,
  type EstimateMode,
  type EstimateOptions,
  estimateOutputTokens,
  estimateRequestTokens,
} from "./estimate-tokens.js";
export { FAST_SAFETY_FACTOR, fastTokenCount } from "./fast-count.js";
export {
  BATCH_PRICES,
  BATCH_PRICES_DATE,
  estimateCost,
  livePricesFor,
  type ModelPrice,
  priceFor,
  pricesFor,
  shardCost,
} from "./pricing.js";
