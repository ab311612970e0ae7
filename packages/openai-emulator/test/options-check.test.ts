// A misspelt option (a line rule's `customId` for `customIds`) was taken without a word and did
// nothing: the rule matched every line, so a test meant to fail one request failed them all. The
// options, at creation and through /_emulator/config, are checked against the emulator's schema.
import { describe, expect, it } from "vitest";
import { createEmulator, type EmulatorOptions } from "../src/index.js";

describe("emulator options are checked", () => {
  it("createEmulator refuses a misspelt option and names it", async () => {
    const options = { lineRules: [{ customId: ["a"], error: "server_error" }] } as unknown as EmulatorOptions;
    await expect(createEmulator(options)).rejects.toThrow(
      /emulator options: unknown option 'lineRules\.0\.customId'/,
    );
    await expect(createEmulator({ timeScale: -1 })).rejects.toThrow(/timeScale: /);
  });

  it("a fault for a route the emulator does not serve is refused, naming it (it never fired)", async () => {
    await expect(
      createEmulator({ faults: [{ route: "GET /v1/batches/{id}", status: 503 }] }),
    ).rejects.toThrow(
      /faults\.0\.route: no route 'GET \/v1\/batches\/\{id\}': one of .*GET \/v1\/batches\/:id, /,
    );
    await expect(createEmulator({ faults: [{ route: "get /v1/batches", status: 503 }] })).rejects.toThrow(
      /faults\.0\.route: no route 'get \/v1\/batches'/,
    );
    const emulator = await createEmulator({
      faults: [
        { route: "*", kind: "delay", delayMs: 0 },
        { route: "GET /v1/messages/batches/:id/results", status: 503 },
        { route: "POST /v1/embeddings", status: 503 },
      ],
    });
    await emulator.close();
  });

  it("/_emulator/config refuses one with a 400 and keeps the options it had", async () => {
    const emulator = await createEmulator({ seed: 1 });
    try {
      const configure = (body: unknown) =>
        fetch(`${emulator.baseUrl}/_emulator/config`, {
          method: "POST",
          headers: { authorization: `Bearer ${emulator.apiKey}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      const refused = await configure({ faults: [{ route: "POST /v1/files", kinds: "error" }] });
      expect(refused.status).toBe(400);
      expect((await refused.json()).error.message).toContain("unknown option 'faults.0.kinds'");
      expect(emulator.options.faults ?? []).toEqual([]);
      const taken = await configure({ faults: [{ route: "POST /v1/files", kind: "error", status: 503 }] });
      expect(taken.status).toBe(200);
      expect(emulator.options.faults).toHaveLength(1);
    } finally {
      await emulator.close();
    }
  });
});
