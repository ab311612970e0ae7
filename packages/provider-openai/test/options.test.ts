import { createEmulator } from "@batchpipe/openai-emulator";
import { describe, expect, it } from "vitest";
import openai from "../src/index.js";
import { openProvider, submit, tag, tempDir, writeShard } from "./helpers.js";

const signal = () => new AbortController().signal;
const missing = { id: "batch_missing", data: null };

describe("options", () => {
  it("origin (the result cache keeps servers apart): none for OpenAI itself, else the base URL from the options or OPENAI_BASE_URL", () => {
    const origin = (options: object, env: Record<string, string> = {}) =>
      openai.origin!(openai.options.parse(options), env);
    expect(origin({})).toBeUndefined();
    expect(origin({ base_url: "https://api.openai.com/v1/" })).toBeUndefined();
    expect(origin({ base_url: "http://127.0.0.1:8000/v1/" })).toBe("http://127.0.0.1:8000/v1");
    expect(origin({}, { OPENAI_BASE_URL: "https://example.openai.azure.com/openai" })).toBe(
      "https://example.openai.azure.com/openai",
    );
    expect(origin({ base_url: "http://127.0.0.1:8000/v1" }, { OPENAI_BASE_URL: "http://elsewhere/v1" })).toBe(
      "http://127.0.0.1:8000/v1",
    );
  });

  it("base_url and api_key come from the options, else OPENAI_BASE_URL / OPENAI_API_KEY", async () => {
    const emu = await createEmulator({ apiKey: "sk-env-key-123456789" });
    try {
      const fromEnv = await openProvider(
        {},
        { OPENAI_BASE_URL: emu.url, OPENAI_API_KEY: "sk-env-key-123456789" },
      );
      await submit(fromEnv, writeShard(tempDir(), tag("a"), 1));

      const fromOptions = await openProvider(
        { base_url: emu.url, api_key: "sk-env-key-123456789" },
        { OPENAI_BASE_URL: "http://127.0.0.1:9/v1", OPENAI_API_KEY: "wrong" },
      );
      expect(await fromOptions.poll(missing, { signal: signal() })).toBeNull();

      const wrongKey = await openProvider({ base_url: emu.url, api_key: "sk-wrong-key-000000000" }, {});
      await expect(wrongKey.poll(missing, { signal: signal() })).rejects.toMatchObject({ status: 401 });
      expect(emu.state().files).toHaveLength(1);
    } finally {
      await emu.close();
    }
  });

  it("without a key, open() is a USAGE error that says to export OPENAI_API_KEY", async () => {
    for (const env of [{}, { OPENAI_API_KEY: "" }]) {
      await expect(openProvider({}, env)).rejects.toMatchObject({
        code: "USAGE",
        message: "No OpenAI API key: OPENAI_API_KEY is not set.",
        hint: expect.stringMatching(/OPENAI_API_KEY.*provider: \{ use: emulator \}/),
      });
    }
  });

  it("reads the environment it is given, never process.env", async () => {
    const saved = process.env.OPENAI_API_KEY;
    process.env.OPENAI_API_KEY = "sk-from-process-env-0000";
    try {
      await expect(openProvider({}, {})).rejects.toMatchObject({ code: "USAGE" });
    } finally {
      if (saved === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = saved;
    }
  });

  it("limits are OpenAI's documented ones, whatever the options", () => {
    expect(openai.limits({})).toEqual({
      maxRequests: 50_000,
      maxBytes: 200 * 1024 * 1024,
      batchKey: ["model", "endpoint"],
      queue: { counts: "tokens", per: "model" },
      maxInputs: 50_000,
      createsPerHour: 2000,
    });
  });
});
