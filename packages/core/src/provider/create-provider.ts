/**
 * The `provider:` block of a pipeline → a BatchProvider.
 *
 * `use: emulator` starts @batchpipe/openai-emulator inside this process. Its state lives in memory
 * (files in a temp dir removed on close), so a run that uses it cannot be resumed by another
 * process: crash/resume needs a separate emulator (`batchpipe emulator --port N`) and
 * `use: openai` with `base_url: http://127.0.0.1:N/v1`.
 */
import { BatchpipeError, ErrorCodes } from "../errors.js";
import type { Logger } from "../plugin.js";
import type { BatchProvider } from "./types.js";

/** createOpenAIClient's options (@batchpipe/provider-openai/client) */
interface OpenAIProviderOptions {
  baseURL: string;
  apiKey: string;
  timeoutMs?: number;
  uploadTimeoutMs?: number;
  maxAttempts?: number;
  minDelayMs?: number;
  maxDelayMs?: number;
  logger?: Logger;
  name?: string;
}

export interface ProviderSpec {
  use: "openai" | "emulator";
  base_url?: string;
  api_key?: string;
  /** options for the in-process emulator (its EmulatorOptions) */
  emulator?: Record<string, unknown>;
}

export interface CreateProviderContext {
  env: Record<string, string | undefined>;
  logger?: Logger;
  /** retry/timeout tuning passed to the openai provider (tests use short delays) */
  overrides?: Partial<Omit<OpenAIProviderOptions, "baseURL" | "apiKey">>;
}

export const DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1";

export async function createProvider(
  spec: ProviderSpec,
  context: CreateProviderContext,
): Promise<BatchProvider> {
  const { env, logger, overrides } = context;
  if (spec.use === "emulator") {
    const emulator = await startEmulator(spec.emulator ?? {});
    const provider = await createOpenAIProvider({
      ...overrides,
      baseURL: emulator.url,
      // the emulator accepts any bearer token unless told to require one
      apiKey: typeof spec.emulator?.apiKey === "string" ? spec.emulator.apiKey : "emulator",
      logger,
      name: "emulator",
    });
    return {
      ...provider,
      async close() {
        await provider.close();
        await emulator.close();
      },
    };
  }
  if (spec.use !== "openai") {
    throw new BatchpipeError(ErrorCodes.USAGE, `Unknown provider "${String(spec.use)}".`, {
      hint: 'Set provider.use to "openai" or "emulator".',
    });
  }
  const apiKey = spec.api_key ?? env.OPENAI_API_KEY;
  if (!apiKey) {
    throw new BatchpipeError(ErrorCodes.USAGE, "No OpenAI API key: OPENAI_API_KEY is not set.", {
      hint: "Export OPENAI_API_KEY=sk-... (or use provider: { use: emulator } to try batchpipe offline).",
    });
  }
  return await createOpenAIProvider({
    ...overrides,
    baseURL: spec.base_url ?? env.OPENAI_BASE_URL ?? DEFAULT_OPENAI_BASE_URL,
    apiKey,
    logger,
  });
}

/*
 * Until the engine speaks the provider contract (and this file goes), both packages are imported
 * by a name TypeScript does not resolve: they depend on core, so a build-time reference would be a
 * cycle. Imported on demand so that `use: openai` never loads the emulator.
 */
async function startEmulator(
  options: Record<string, unknown>,
): Promise<{ url: string; close(): Promise<void> }> {
  const name = "@batchpipe/openai-emulator";
  const { createEmulator } = (await import(name)) as {
    createEmulator(options: Record<string, unknown>): Promise<{ url: string; close(): Promise<void> }>;
  };
  return createEmulator(options);
}

async function createOpenAIProvider(options: OpenAIProviderOptions): Promise<BatchProvider> {
  const name = "@batchpipe/provider-openai/client";
  const { createOpenAIClient } = (await import(name)) as {
    createOpenAIClient(options: OpenAIProviderOptions): BatchProvider;
  };
  return createOpenAIClient(options);
}
