export {
  type CreateProviderContext,
  createProvider,
  DEFAULT_OPENAI_BASE_URL,
  type ProviderSpec,
} from "./create-provider.js";
export * from "./types.js";
