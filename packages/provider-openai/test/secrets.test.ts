import { inspect } from "node:util";
import { BatchpipeError } from "@batchpipe/core/plugin";
import { createEmulator } from "@batchpipe/openai-emulator";
import { describe, expect, it } from "vitest";
import type { ProviderError } from "../src/index.js";
import { capture, openProvider, rejection, setup } from "./helpers.js";

const secret = "sk-proj-SECRET-abcdefghijklmnop0123456789";
const signal = () => new AbortController().signal;

function assertClean(value: unknown, lines: string[]) {
  const texts = [
    String(value),
    (value as Error).stack ?? "",
    JSON.stringify(value),
    inspect(value, { depth: 20, showHidden: true }),
    ...lines,
  ];
  for (const text of texts) expect(text).not.toContain(secret);
}

describe("secrets", () => {
  it("never puts the API key in errors or log lines (401, and a server that echoes it)", async () => {
    const { emu } = await setup({ apiKey: "the-right-key" });
    const { logger, lines } = capture();
    const connection = await openProvider(
      { base_url: emu.url, api_key: secret, retry_attempts: 2, retry_min_delay_ms: 5 },
      {},
      logger,
    );
    const ref = { id: "batch_x", data: null };
    const error = await rejection(connection.poll(ref, { signal: signal() }));
    expect(error).toMatchObject({ code: "PROVIDER_UNREACHABLE", status: 401 });
    expect((error as ProviderError).hint).toMatch(/OPENAI_API_KEY/);
    assertClean(error, lines);

    emu.configure({
      apiKey: secret,
      faults: [{ route: "GET /v1/batches/:id", status: 500, message: `boom, your key is ${secret}` }],
    });
    const echoed = await rejection(connection.poll(ref, { signal: signal() }));
    expect(echoed).toBeInstanceOf(BatchpipeError);
    expect((echoed as Error).message).toContain("[redacted]");
    expect(lines.length).toBeGreaterThan(0);
    assertClean(echoed, lines);
  });

  it("never puts the API key in connection errors", async () => {
    const emu = await createEmulator();
    const url = emu.url;
    await emu.close(); // nothing listens there any more
    const { logger, lines } = capture();
    const connection = await openProvider(
      { base_url: url, retry_attempts: 2, retry_min_delay_ms: 5 },
      { OPENAI_API_KEY: secret },
      logger,
    );
    const tag = { pipeline: "p", run: "r", shard: "1", submission: 1 };
    const error = await rejection(connection.find([tag], { since: 0, signal: signal() }));
    // no server there at all: PROVIDER_UNREACHABLE, naming the address to check
    expect(error).toMatchObject({ code: "PROVIDER_UNREACHABLE" });
    expect((error as Error).message).toMatch(
      /GET \/batches failed after 2 attempts: Connection error \(ECONNREFUSED\)/,
    );
    expect((error as Error).message).toContain(url);
    assertClean(error, lines);
  });
});
