export { createOpenAIConnection, type OpenAIConnectionOptions } from "./connection.js";
export { classifyLine, encodeRequest, extractOutput, RETRYABLE_CODES, toUsage, wantsJson } from "./format.js";
export {
  type CallOptions,
  callOptions,
  callSettings,
  DEFAULT_OPENAI_BASE_URL,
  type OpenAIOptions,
  openaiOptions,
} from "./options.js";
export { default, default as openaiProvider, OPENAI_LIMITS } from "./plugin.js";
export { ProviderError, type RetryInfo } from "./retry.js";
