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
  checkLimits,
  ESTIMATE_MARGIN,
  type LimitProblem,
  limitsFor,
  MODEL_LIMITS,
  type ModelLimits,
} from "./limits.js";
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
