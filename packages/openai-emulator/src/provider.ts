/**
 * `use: emulator`: the OpenAI provider (or with `api: anthropic`, the Anthropic one) against an
 * emulator started inside this process, for trying batchpipe offline (no key, no network) and for tests.
 *
 * The emulator's batches live in memory (its files in a temp dir removed on close), so they end
 * with the connection: a run that uses it cannot be resumed by another process. Crash/resume needs
 * a separate emulator (`batchpipe emulator --port N`) and `use: openai` with
 * `base_url: http://127.0.0.1:N/v1` (or `use: anthropic` with `base_url: http://127.0.0.1:N`).
 */
import { createRequire } from "node:module";
import {
  BatchpipeError,
  defineProvider,
  ErrorCodes,
  type ProviderConnection,
  type ProviderPlugin,
  z,
} from "@batchpipe/core/plugin";
import openai, { callOptions, callSettings } from "@batchpipe/provider-openai/plugin";
import type { EmulatorOptions } from "./options.js";
import { emulatorOptionsSchema } from "./options-schema.js";

export const emulatorProviderOptions = z.strictObject({
  api: z.enum(["openai", "anthropic"]).optional().meta({
    description: "Which API the run speaks to the emulator: openai (default) or anthropic (Message Batches).",
  }),
  emulator: emulatorOptionsSchema.optional().meta({
    description: "Options for the in-process emulator (EmulatorOptions, e.g. { timeScale: 3600 }).",
  }),
  api_key: z.string().min(1).optional().meta({
    description:
      'The key sent (bearer token, or x-api-key with api: anthropic). Default: emulator.apiKey when set, else "emulator" (any key passes).',
  }),
  max_enqueued_requests: z.int().positive().optional().meta({
    description: "With api: anthropic, as the anthropic provider's option of that name.",
  }),
  ...callOptions,
});

type Options = z.output<typeof emulatorProviderOptions>;

/**
 * The Anthropic provider plugin, loaded by name when installed: @batchpipe/provider-anthropic is
 * a dependency of this package (issue 14), but `api: openai` runs must not need it.
 *
 * Loaded with require() (Node >= 20.19 loads an ES module so), not a top-level `await import()`:
 * a module graph with a top-level await cannot be require()d, so a CommonJS app's
 * `require("batchpipe")` failed with ERR_REQUIRE_ASYNC_MODULE.
 */
const ANTHROPIC_PLUGIN = "@batchpipe/provider-anthropic";
let loadError: unknown;
let anthropic: ProviderPlugin | undefined;
try {
  anthropic = (createRequire(import.meta.url)(`${ANTHROPIC_PLUGIN}/plugin`) as { default: ProviderPlugin })
    .default;
} catch (error) {
  loadError = error;
}

function anthropicPlugin(): ProviderPlugin {
  if (anthropic) return anthropic;
  const reason = ["MODULE_NOT_FOUND", "ERR_MODULE_NOT_FOUND"].includes(
    (loadError as { code?: string })?.code ?? "",
  )
    ? "is not installed"
    : `failed to load: ${String(loadError)}`;
  throw new BatchpipeError(
    ErrorCodes.PLUGIN_NOT_FOUND,
    `provider: { use: emulator, api: anthropic } needs the package ${ANTHROPIC_PLUGIN}, which ${reason}.`,
    { hint: `Install ${ANTHROPIC_PLUGIN} beside @batchpipe/openai-emulator.`, plugin: "emulator" },
  );
}

/** The anthropic provider's options for these (`base_url` and the key only when connecting). */
function anthropicOptions(options: Options, connect?: { baseUrl: string; apiKey: string }): unknown {
  const { api: _api, emulator: _emulator, api_key: _key, upload_timeout_ms: _upload, ...rest } = options;
  const given = connect ? { ...rest, base_url: connect.baseUrl, api_key: connect.apiKey } : rest;
  return anthropicPlugin().options.parse(given);
}

// encode() runs once per record: parse the options once per options object
const parsedForEncode = new WeakMap<Options, unknown>();
function encodeOptions(options: Options): unknown {
  let parsed = parsedForEncode.get(options);
  if (parsed === undefined) {
    parsed = anthropicOptions(options);
    parsedForEncode.set(options, parsed);
  }
  return parsed;
}

export default defineProvider({
  name: "emulator",
  options: emulatorProviderOptions,
  // it emulates the real APIs, limits included (a test that lowers the emulator's own wants to see them hit)
  // its two dialects answer differently (an Anthropic `message` is no chat completion): the
  // result cache keeps them apart; openai names none, so the quickstart's reruns keep their entries
  origin: (options) => (options.api === "anthropic" ? "api anthropic" : undefined),
  limits: (options) =>
    options.api === "anthropic" ? anthropicPlugin().limits(anthropicOptions(options)) : openai.limits({}),
  // its OpenAI API, as OpenAI's, refuses any window but 24h; Anthropic's has none to send
  completionWindows: (options) => (options.api === "anthropic" ? undefined : ["24h"]),
  encode: (request, options) =>
    options.api === "anthropic"
      ? anthropicPlugin().encode(request, encodeOptions(options))
      : openai.encode(request, {}),
  // an Anthropic answer is a `message`; output() is not told the options
  output: (response, request) =>
    response.type === "message" && anthropic
      ? anthropic.output(response, request)
      : openai.output(response, request),
  async open(ctx) {
    const { options, logger } = ctx;
    const settings = options.emulator ?? {};
    // loaded here, not with the module: the CLI registers this provider for every command, and only
    // a run that uses it needs the server
    const { createEmulator } = await import("./emulator.js");
    const { createOpenAIConnection } = await import("@batchpipe/provider-openai");
    const emulator = await createEmulator(settings as EmulatorOptions);
    const apiKey = options.api_key ?? (typeof settings.apiKey === "string" ? settings.apiKey : "emulator");
    let connection: ProviderConnection;
    try {
      connection =
        options.api === "anthropic"
          ? await anthropicPlugin().open({
              ...ctx,
              options: anthropicOptions(options, { baseUrl: emulator.baseUrl, apiKey }),
              // ANTHROPIC_BASE_URL and the key of the environment are not for the emulator
              env: {},
            })
          : createOpenAIConnection({ ...callSettings(options), baseURL: emulator.url, apiKey, logger });
    } catch (error) {
      await emulator.close();
      throw error;
    }
    return {
      ...connection,
      async close() {
        try {
          await connection.close();
        } finally {
          await emulator.close();
        }
      },
    };
  },
});
