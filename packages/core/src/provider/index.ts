export {
  type CreateProviderContext,
  createProvider,
  DEFAULT_OPENAI_BASE_URL,
  type ProviderSpec,
} from "./create-provider.js";
export { toBatchInfo, toFileInfo } from "./normalise.js";
export { createOpenAIProvider, type OpenAIProviderOptions } from "./openai-provider.js";
export { DEFAULT_RETRY_POLICY, ProviderError, type RetryInfo, type RetryPolicy } from "./retry.js";
export * from "./types.js";
