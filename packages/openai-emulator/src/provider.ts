/**
 * `use: emulator`: the OpenAI provider against an emulator started inside this process, for trying
 * batchpipe offline (no key, no network) and for tests.
 *
 * The emulator's batches live in memory (its files in a temp dir removed on close), so they end
 * with the connection: a run that uses it cannot be resumed by another process. Crash/resume needs
 * a separate emulator (`batchpipe emulator --port N`) and `use: openai` with
 * `base_url: http://127.0.0.1:N/v1`.
 */
import { defineProvider, z } from "@batchpipe/core/plugin";
import openai, { callOptions, callSettings, createOpenAIConnection } from "@batchpipe/provider-openai";
import type { EmulatorOptions } from "./options.js";

export const emulatorProviderOptions = z.strictObject({
  emulator: z.record(z.string(), z.unknown()).optional().meta({
    description: "Options for the in-process emulator (EmulatorOptions, e.g. { timeScale: 3600 }).",
  }),
  api_key: z.string().min(1).optional().meta({
    description:
      'The bearer token sent. Default: emulator.apiKey when set, else "emulator" (any token passes).',
  }),
  ...callOptions,
});

export default defineProvider({
  name: "emulator",
  options: emulatorProviderOptions,
  // it emulates OpenAI, limits included (a test that lowers the emulator's own wants to see them hit)
  limits: () => openai.limits({}),
  encode: (request) => openai.encode(request, {}),
  output: (response, request) => openai.output(response, request),
  async open({ options, logger }) {
    const settings = options.emulator ?? {};
    // loaded here, not with the module: the CLI registers this provider for every command, and only
    // a run that uses it needs the server
    const { createEmulator } = await import("./emulator.js");
    const emulator = await createEmulator(settings as EmulatorOptions);
    const apiKey = options.api_key ?? (typeof settings.apiKey === "string" ? settings.apiKey : "emulator");
    const connection = createOpenAIConnection({
      ...callSettings(options),
      baseURL: emulator.url,
      apiKey,
      logger,
    });
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
