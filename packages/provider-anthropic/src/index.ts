export { createAnthropicClient } from "./client.js";
export { type AnthropicConnectionOptions, createAnthropicConnection } from "./connection.js";
export { encodeRequest, extractOutput, toResultItem, toUsage, wantsJson } from "./format.js";
export { customId, parseCustomId, submissionTagId } from "./ids.js";
export { type AnthropicOptions, anthropicOptions, DEFAULT_ANTHROPIC_BASE_URL } from "./options.js";
export { ANTHROPIC_LIMITS, default, default as anthropicProvider } from "./plugin.js";
export { ProviderError, type RetryInfo } from "./retry.js";
