import path from "node:path";
import type { ProviderConnection } from "@batchpipe/core/plugin";
import { silentLogger } from "@batchpipe/core/testing";
import { describe, expect, it } from "vitest";
import emulator from "../src/provider.js";

// @batchpipe/provider-anthropic is written beside this package (issue 14); until it is a dependency
// here, `api: anthropic` answers PLUGIN_NOT_FOUND, and that is what runs
const installed = await import("@batchpipe/provider-anthropic" as string).then(
  () => true,
  () => false,
);

async function open(options: Record<string, unknown>): Promise<ProviderConnection> {
  return emulator.open({
    options: emulator.options.parse(options),
    env: { ANTHROPIC_BASE_URL: "http://192.0.2.1:9", ANTHROPIC_API_KEY: "from-env" },
    logger: silentLogger,
    resolvePath: (p) => path.resolve(p),
    signal: new AbortController().signal,
  });
}

describe("use: emulator, api: anthropic", () => {
  it("validates the option", () => {
    expect(emulator.options.safeParse({ api: "anthropic" }).success).toBe(true);
    expect(emulator.options.safeParse({ api: "gemini" }).success).toBe(false);
  });

  it.runIf(installed)("hands off to the anthropic provider against the emulator it started", async () => {
    const options = emulator.options.parse({ api: "anthropic", max_enqueued_requests: 500 });
    expect(emulator.limits(options)).toMatchObject({ queue: { counts: "requests" }, maxEnqueued: 500 });
    const encoded = emulator.encode(
      {
        custom_id: "a/b",
        endpoint: "",
        body: { model: "claude-sonnet-4-5", max_tokens: 5, messages: [] },
      } as never,
      options,
    );
    expect(JSON.parse(encoded.line)).toMatchObject({ params: { model: "claude-sonnet-4-5" } });
    const message = { type: "message", content: [{ type: "text", text: "hi" }] };
    expect(emulator.output(message, { endpoint: "", json: false })).toEqual({ ok: true, output: "hi" });

    // the environment's base URL and key are not used: the poll reaches the emulator, which has no such batch
    const connection = await open({ api: "anthropic", emulator: { apiKey: "k-1" }, retry_attempts: 1 });
    const signal = new AbortController().signal;
    try {
      expect(await connection.poll({ id: "msgbatch_missing", data: null }, { signal })).toBeNull();
    } finally {
      await connection.close();
    }
  });

  it.runIf(!installed)("says which package is missing", async () => {
    await expect(open({ api: "anthropic" })).rejects.toMatchObject({
      code: "PLUGIN_NOT_FOUND",
      message: expect.stringContaining("@batchpipe/provider-anthropic"),
    });
    expect(() => emulator.limits(emulator.options.parse({ api: "anthropic" }))).toThrow(/provider-anthropic/);
  });
});
