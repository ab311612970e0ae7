/**
 * `use: anthropic`: Anthropic's Message Batches. Pure parts (limits, encode, output) need no
 * connection; `open` reads the key from the environment the engine passes (never process.env).
 */
import { baseUrlOrigin, defineProvider, type ProviderLimits } from "@batchpipe/core/plugin";
import { encodeRequest, extractOutput } from "./format.js";
import { anthropicOptions, clientOptions, DEFAULT_ANTHROPIC_BASE_URL } from "./options.js";

/**
 * Anthropic's documented limits (reference/providers.md §1): 100,000 requests or 256 MB per batch,
 * one queue of requests across all models. The shard file holds the records' own ids, which the
 * create replaces with tagged ones of at most 25 characters: the byte limit keeps 48 bytes a
 * request of room for that (a short id can grow), so the create's body never passes 256 MB.
 */
export const ANTHROPIC_LIMITS: ProviderLimits = {
  maxRequests: 100_000,
  maxBytes: 256_000_000 - 100_000 * 48,
  batchKey: [],
  queue: { counts: "requests", per: "account" },
  createsPerHour: null,
};

export default defineProvider({
  name: "anthropic",
  options: anthropicOptions,
  limits: (options) => ({ ...ANTHROPIC_LIMITS, maxEnqueued: options.max_enqueued_requests ?? null }),
  encode: (request) => encodeRequest(request),
  output: (response, request) => extractOutput(response, request),
  // another server at base_url answers differently: its results are not Anthropic's
  // the betas asked for (anthropic-beta) can change the answers: a result under one set is not
  // another's
  origin: (options, env) => {
    const server = baseUrlOrigin(options.base_url || env.ANTHROPIC_BASE_URL, DEFAULT_ANTHROPIC_BASE_URL);
    const betas = options.betas?.length ? `betas ${[...options.betas].sort().join(",")}` : undefined;
    return [server, betas].filter(Boolean).join(" ") || undefined;
  },
  check: ({ options, env }) =>
    options.api_key || env.ANTHROPIC_API_KEY
      ? {}
      : {
          problems: [
            {
              message: "no Anthropic API key: ANTHROPIC_API_KEY is not set",
              hint: "export ANTHROPIC_API_KEY=sk-ant-... (or use provider: { use: emulator, api: anthropic } to try batchpipe offline)",
            },
          ],
        },
  async open({ options, env, logger }) {
    // the SDK (~0.4 s to load) only for a run that talks to the API, not for every command
    const { createAnthropicConnection } = await import("./connection.js");
    return createAnthropicConnection(clientOptions(options, env, logger));
  },
});
