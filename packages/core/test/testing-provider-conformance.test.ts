import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { type BatchSnapshot, defineProvider, type ProviderPlugin, tagKey, z } from "../src/plugin.js";
import { type ConformanceCheck, testProvider } from "../src/testing/index.js";

/**
 * A provider that keeps its batches in memory, shared by its connections (so they outlive a
 * "crash"); each batch ends at its first poll. `flaws` break what the suite is there to catch.
 */
function memoryProvider(
  flaws: {
    forgetful?: boolean;
    echoTwice?: boolean;
    rawNewline?: boolean;
    cancelThrows?: boolean;
    asyncOutput?: boolean;
  } = {},
): ProviderPlugin {
  const batches = new Map<string, { ids: string[]; tag: string; polls: number }>();
  const snapshot = (id: string): BatchSnapshot => {
    const batch = batches.get(id)!;
    const ended = batch.polls > 0;
    return {
      id,
      data: null,
      state: ended ? "ended" : "running",
      status: ended ? "done" : "running",
      ending: ended ? "completed" : null,
      queueFull: null,
      counts: null,
      errors: [],
      createdAt: Date.now(),
      expiresAt: null,
    };
  };
  return defineProvider({
    name: "memory",
    options: z.strictObject({}),
    limits: () => ({
      maxRequests: 100,
      maxBytes: 1_000_000,
      batchKey: [],
      queue: { counts: "requests", per: "account" },
      createsPerHour: null,
    }),
    encode: (request) => ({
      line: flaws.rawNewline ? `${request.custom_id}\n` : JSON.stringify(request),
      model: typeof request.body.model === "string" ? request.body.model : "",
      json: false,
    }),
    // an async output() (a JS provider): the engine reads `ok` off a Promise and fails every request
    output: flaws.asyncOutput
      ? ((async (response: unknown) => ({ ok: true, output: response })) as never)
      : (response) => ({ ok: true, output: response }),
    async open() {
      return {
        async submit(shard) {
          const ids = readFileSync(shard.file, "utf8")
            .split("\n")
            .filter(Boolean)
            .map((line) => (JSON.parse(line) as { custom_id: string }).custom_id);
          const id = `b${batches.size + 1}`;
          batches.set(id, { ids, tag: `${shard.tag.run}/${tagKey(shard.tag)}`, polls: 0 });
          return { batch: snapshot(id) };
        },
        async find(tags) {
          const found = new Map<string, BatchSnapshot>();
          if (flaws.forgetful) return found;
          for (const tag of tags)
            for (const [id, batch] of batches)
              if (batch.tag === `${tag.run}/${tagKey(tag)}`) found.set(tagKey(tag), snapshot(id));
          return found;
        },
        async poll(ref) {
          const batch = batches.get(ref.id);
          if (!batch) return null;
          batch.polls++;
          return snapshot(ref.id);
        },
        async *results(ref) {
          const ids = batches.get(ref.id)?.ids ?? [];
          for (const id of flaws.echoTwice ? [...ids, ids[0]!] : ids)
            yield { kind: "success", id, response: {}, usage: null, model: null };
        },
        async cancel() {
          if (flaws.cancelThrows) throw new Error("cannot cancel");
        },
        async cleanUp() {},
        async close() {},
      };
    },
  });
}

const options = { makeOptions: () => ({}), pollIntervalMs: 1, timeoutMs: 2_000 };

async function failures(checks: ConformanceCheck[]): Promise<string[]> {
  const failed: string[] = [];
  for (const check of checks) await check.run().catch(() => failed.push(check.name));
  return failed;
}

describe("testProvider", () => {
  test("a correct provider passes every check", async () => {
    expect(await failures(testProvider(memoryProvider(), options))).toEqual([]);
  });

  test("makeOptions may return a promise: a correct provider passes every check", async () => {
    // an option the provider requires: a promise parsed as the options was refused by every check
    // but "valid options parse"
    const provider = { ...memoryProvider(), options: z.strictObject({ region: z.string() }) };
    const makeOptions = async () => ({ region: "eu" });
    expect(await failures(testProvider(provider, { ...options, makeOptions }))).toEqual([]);
  });

  test("a provider that cannot find its submissions fails the crash check", async () => {
    expect(await failures(testProvider(memoryProvider({ forgetful: true }), options))).toEqual([
      "provider:memory: after a crash, find() answers each submitted tag and nothing is created twice",
    ]);
  });

  test("a provider that answers an id twice fails the exactly-once checks", async () => {
    expect(await failures(testProvider(memoryProvider({ echoTwice: true }), options))).toEqual([
      "provider:memory: a submitted shard ends and every request comes back exactly once",
      "provider:memory: after a crash, find() answers each submitted tag and nothing is created twice",
      "provider:memory: cancel stops a running batch, or is harmless on an ended one",
    ]);
  });

  test("an encoding that breaks the line fails the encode check", async () => {
    const failed = await failures(testProvider(memoryProvider({ rawNewline: true }), options));
    expect(failed).toContain(
      "provider:memory: encode gives one line per request, its own per id, and the shard's bytes add up",
    );
  });

  test("an output() that answers with a Promise fails the exactly-once check, saying why", async () => {
    const checks = testProvider(memoryProvider({ asyncOutput: true }), options);
    expect(await failures(checks)).toEqual([
      "provider:memory: a submitted shard ends and every request comes back exactly once",
    ]);
    const check = checks.find((c) => c.name.endsWith("every request comes back exactly once"))!;
    await expect(check.run()).rejects.toThrow("output() returned a Promise for conformance-1");
  });

  test("a cancel that throws fails the cancel check", async () => {
    expect(await failures(testProvider(memoryProvider({ cancelThrows: true }), options))).toEqual([
      "provider:memory: cancel stops a running batch, or is harmless on an ended one",
    ]);
  });
});
