import Anthropic from "@anthropic-ai/sdk";
import type {
  MessageBatch,
  MessageBatchIndividualResponse,
} from "@anthropic-ai/sdk/resources/messages/batches";
import { createEmulator, type Emulator, type EmulatorOptions } from "../src/index.js";

export interface AnthropicHarness {
  emu: Emulator;
  client: Anthropic;
  close(): Promise<void>;
}

/** The emulator and the official SDK pointed at it over loopback (no SDK retries unless asked). */
export async function startAnthropic(
  options: EmulatorOptions = {},
  maxRetries = 0,
): Promise<AnthropicHarness> {
  const emu = await createEmulator(options);
  const client = new Anthropic({ baseURL: emu.baseUrl, apiKey: "test-key", maxRetries });
  return { emu, client, close: () => emu.close() };
}

export function request(customId: string, text: string, extra: Record<string, unknown> = {}) {
  return {
    custom_id: customId,
    params: {
      model: "claude-sonnet-4-5",
      max_tokens: 256,
      messages: [{ role: "user" as const, content: text }],
      ...extra,
    },
  };
}

export async function waitEnded(client: Anthropic, id: string, timeoutMs = 20_000): Promise<MessageBatch> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const batch = await client.messages.batches.retrieve(id);
    if (batch.processing_status === "ended") return batch;
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${batch.processing_status}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function resultsOf(client: Anthropic, id: string): Promise<MessageBatchIndividualResponse[]> {
  const out: MessageBatchIndividualResponse[] = [];
  for await (const line of await client.messages.batches.results(id)) out.push(line);
  return out;
}
