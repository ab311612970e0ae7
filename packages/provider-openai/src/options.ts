/** The `provider:` options of `use: openai`, and what they become for the client. */
import { BatchpipeError, ErrorCodes, type Logger, retryOptions, z } from "@batchpipe/core/plugin";
import type { OpenAIConnectionOptions } from "./connection.js";

export const DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1";

/** call timeouts and retries: the defaults suit the real API; tests shorten them */
export const callOptions = {
  timeout_ms: z.int().positive().optional().meta({
    description:
      "Timeout of one API call, and the longest silence of a result download mid-body. Default 60000.",
  }),
  upload_timeout_ms: z
    .int()
    .positive()
    .optional()
    .meta({ description: "Timeout of one file upload. Default 600000 (a 200 MB upload takes a while)." }),
  ...retryOptions,
  max_line_bytes: z.int().positive().optional().meta({
    description:
      "Longest result line read, in bytes; a longer one is counted as unexpected and skipped (its request is retried). Default 134217728 (128 MiB).",
  }),
};

export const openaiOptions = z.strictObject({
  base_url: z
    .url({ error: "expected a URL such as https://api.openai.com/v1" })
    .optional()
    .meta({ description: "The API's base URL. Default: $OPENAI_BASE_URL, then https://api.openai.com/v1." }),
  api_key: z.string().min(1).optional().meta({
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
    description: "The API key, as a ${VAR} reference such as ${OPENAI_API_KEY}. Default: $OPENAI_API_KEY.",
  }),
  ...callOptions,
});

export type OpenAIOptions = z.output<typeof openaiOptions>;
export type CallOptions = Pick<OpenAIOptions, keyof typeof callOptions>;

/** The client's settings from the options and, for what they leave out, the environment. */
export function clientOptions(
  options: OpenAIOptions,
  env: Record<string, string | undefined>,
  logger: Logger,
): OpenAIConnectionOptions {
  const apiKey = options.api_key || env.OPENAI_API_KEY;
  if (!apiKey) {
    throw new BatchpipeError(ErrorCodes.USAGE, "No OpenAI API key: OPENAI_API_KEY is not set.", {
      hint: "Export OPENAI_API_KEY=sk-... (or use provider: { use: emulator } to try batchpipe offline).",
    });
  }
  return {
    ...callSettings(options),
    baseURL: options.base_url || env.OPENAI_BASE_URL || DEFAULT_OPENAI_BASE_URL,
    apiKey,
    logger,
  };
}

export function callSettings(options: CallOptions): Omit<OpenAIConnectionOptions, "baseURL" | "apiKey"> {
  return {
    maxLineBytes: options.max_line_bytes,
    timeoutMs: options.timeout_ms,
    uploadTimeoutMs: options.upload_timeout_ms,
    maxAttempts: options.retry_attempts,
    minDelayMs: options.retry_min_delay_ms,
    maxDelayMs: options.retry_max_delay_ms,
  };
}
