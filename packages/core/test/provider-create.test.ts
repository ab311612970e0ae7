import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createEmulator } from "@batchpipe/openai-emulator";
import { describe, expect, it } from "vitest";
import { createProvider } from "../src/provider/index.js";

function shard(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "create-provider-"));
  const file = path.join(dir, "00001.jsonl");
  const line = {
    custom_id: "a",
    method: "POST",
    url: "/v1/chat/completions",
    body: { model: "gpt-4o-mini", messages: [] },
  };
  fs.writeFileSync(file, `${JSON.stringify(line)}\n`);
  return file;
}

describe("createProvider", () => {
  it("use: emulator starts an in-process emulator and close() stops it", async () => {
    const provider = await createProvider(
      { use: "emulator", emulator: { seed: 7 } },
      { env: {}, overrides: { maxAttempts: 2, minDelayMs: 5 } },
    );
    expect(provider.name).toBe("emulator");
    const file = await provider.uploadFile(shard(), { filename: "x.jsonl" });
    const created = await provider.createBatch({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: { batchpipe_run: "r", batchpipe_shard: "1", batchpipe_attempt: "1" },
    });
    expect("batch" in created && created.batch.status).toBe("validating");
    await provider.close();
    await expect(provider.retrieveBatch("batch_x")).rejects.toMatchObject({ code: "PROVIDER_FAILED" });
  }, 60_000);

  it("use: openai takes base_url and api_key from the spec, else OPENAI_BASE_URL / OPENAI_API_KEY", async () => {
    const emu = await createEmulator({ apiKey: "sk-env-key-123456789" });
    try {
      const fromEnv = await createProvider(
        { use: "openai" },
        { env: { OPENAI_BASE_URL: emu.url, OPENAI_API_KEY: "sk-env-key-123456789" } },
      );
      expect(fromEnv.name).toBe("openai");
      expect((await fromEnv.uploadFile(shard(), { filename: "a.jsonl" })).filename).toBe("a.jsonl");

      const fromSpec = await createProvider(
        { use: "openai", base_url: emu.url, api_key: "sk-env-key-123456789" },
        { env: { OPENAI_BASE_URL: "http://127.0.0.1:9/v1", OPENAI_API_KEY: "wrong" } },
      );
      expect(await fromSpec.retrieveBatch("batch_missing")).toBeNull();

      const wrongKey = await createProvider(
        { use: "openai", base_url: emu.url, api_key: "sk-wrong-key-000000000" },
        { env: {} },
      );
      await expect(wrongKey.retrieveBatch("batch_missing")).rejects.toMatchObject({ status: 401 });
      expect(emu.state().files).toHaveLength(1);
    } finally {
      await emu.close();
    }
  });

  it("use: openai without a key is a USAGE error that says to export OPENAI_API_KEY", async () => {
    await expect(createProvider({ use: "openai" }, { env: {} })).rejects.toMatchObject({
      code: "USAGE",
      hint: expect.stringContaining("OPENAI_API_KEY"),
    });
  });
});
