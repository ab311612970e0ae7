/** The `provider:` options of `use: anthropic`, and what they become for the client. */
import { BatchpipeError, ErrorCodes, type Logger, retryOptions, z } from "@batchpipe/core/plugin";
import type { AnthropicClientOptions } from "./client.js";

export const DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com";

export const anthropicOptions = z.strictObject({
  base_url: z.url({ error: "expected a URL such as https://api.anthropic.com" }).optional().meta({
    description:
      "The API's base URL (without /v1). Default: $ANTHROPIC_BASE_URL, then https://api.anthropic.com.",
  }),
  api_key: z.string().min(1).optional().meta({
    description:
      // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
      "The API key, as a ${VAR} reference such as ${ANTHROPIC_API_KEY}. Default: $ANTHROPIC_API_KEY.",
  }),
  max_enqueued_requests: z.int().positive().optional().meta({
    description:
      "Requests this run keeps in Anthropic's processing queue (all models together). Default: learnt from the API's 429 answers.",
  }),
  betas: z.array(z.string().min(1)).optional().meta({
    description:
      "Beta features for every batch, sent as the anthropic-beta header (e.g. structured-outputs-2025-11-13 for output_format).",
  }),
  timeout_ms: z.int().positive().optional().meta({
    description:
      "Timeout of one API call, and the longest silence of a result download mid-body. Default 600000.",
  }),
  ...retryOptions,
});

export type AnthropicOptions = z.output<typeof anthropicOptions>;

/** The client's settings from the options and, for what they leave out, the environment. */
export function clientOptions(
  options: AnthropicOptions,
  env: Record<string, string | undefined>,
  logger: Logger,
): AnthropicClientOptions {
  const apiKey = options.api_key || env.ANTHROPIC_API_KEY;
  if (!apiKey) {
    throw new BatchpipeError(ErrorCodes.USAGE, "No Anthropic API key: ANTHROPIC_API_KEY is not set.", {
      hint: "Export ANTHROPIC_API_KEY=sk-ant-... (or use provider: { use: emulator, api: anthropic } to try batchpipe offline).",
    });
  }
  return {
    baseURL: options.base_url || env.ANTHROPIC_BASE_URL || DEFAULT_ANTHROPIC_BASE_URL,
    apiKey,
    betas: options.betas ?? [],
    timeoutMs: options.timeout_ms,
    maxAttempts: options.retry_attempts,
    minDelayMs: options.retry_min_delay_ms,
    maxDelayMs: options.retry_max_delay_ms,
    logger,
  };
}
