/**
 * `use: openai`: OpenAI's Batch API, or any OpenAI-compatible one at `base_url`.
 * Pure parts (limits, encode, output) need no connection; `open` reads the key from the
 * environment the engine passes (never process.env).
 */
import { baseUrlOrigin, defineProvider, type ProviderLimits } from "@batchpipe/core/plugin";
import { encodeRequest, extractOutput } from "./format.js";
import { clientOptions, DEFAULT_OPENAI_BASE_URL, type OpenAIOptions, openaiOptions } from "./options.js";

/** OpenAI's documented limits (reference/openai-batch-api.md) */
export const OPENAI_LIMITS: ProviderLimits = {
  maxRequests: 50_000,
  maxBytes: 200 * 1024 * 1024,
  batchKey: ["model", "endpoint"],
  queue: { counts: "tokens", per: "model" },
  // the embeddings endpoint's cap; other requests count 1 each, within maxRequests anyway
  maxInputs: 50_000,
  createsPerHour: 2000,
};

export default defineProvider({
  name: "openai",
  options: openaiOptions,
  limits: () => OPENAI_LIMITS,
  encode: (request) => encodeRequest(request),
  output: (response, request) => extractOutput(response, request),
  // another OpenAI-compatible server answers differently: its results are not OpenAI's
  origin,
  // OpenAI's Batch API refuses any other window with a 400; a compatible server may accept others
  completionWindows: (options, env) => (origin(options, env) === undefined ? ["24h"] : undefined),
  check: ({ options, env }) =>
    options.api_key || env.OPENAI_API_KEY
      ? {}
      : {
          problems: [
            {
              message: "no OpenAI API key: OPENAI_API_KEY is not set",
              hint: "export OPENAI_API_KEY=sk-... (or use provider: { use: emulator } to try batchpipe offline)",
            },
          ],
        },
  async open({ options, env, logger }) {
    // the SDK (~0.3 s to load) only for a run that talks to the API, not for every command
    const { createOpenAIConnection } = await import("./connection.js");
    return createOpenAIConnection(clientOptions(options, env, logger));
  },
});

export { callOptions, callSettings } from "./options.js";

function origin(options: OpenAIOptions, env: Record<string, string | undefined>): string | undefined {
  return baseUrlOrigin(options.base_url || env.OPENAI_BASE_URL, DEFAULT_OPENAI_BASE_URL);
}
