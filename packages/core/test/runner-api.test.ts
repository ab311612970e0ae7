import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkExactlyOnce,
  type EmulatorProcess,
  officialPlugins,
  readJsonl,
  startEmulatorProcess,
  tempDir,
} from "../../batchpipe/test/support/harness.js";
import {
  type BatchErrorItem,
  type BatchInputItem,
  type BatchOutputItem,
  BatchpipeError,
  BatchRunner,
  runSpec,
} from "../src/index.js";
import { defineSource, z } from "../src/plugin.js";

const EMULATOR = { use: "emulator", emulator: { timeScale: 3600 } } as const;
const FAST = { poll_interval: "50ms", max_requests: 4 };

const collect = async <T>(items: AsyncIterable<T>, into: T[]) => {
  for await (const item of items) into.push(item);
};

describe("BatchRunner", () => {
  it("routes successes to download() and final failures to downloadError()", async () => {
    const dir = tempDir();
    const outputs: BatchOutputItem[] = [];
    const errors: BatchErrorItem[] = [];
    const calls: number[] = [];
    class Runner extends BatchRunner {
      static override workConfig = {
        name: "routing",
        endpoint: "/v1/chat/completions" as const,
        model: "gpt-4o-mini",
        provider: EMULATOR,
        batch: FAST,
      };
      static override async *upload(): AsyncIterable<BatchInputItem> {
        for (let i = 1; i <= 9; i++)
          yield { id: `r${i}`, messages: [{ role: "user", content: `hello ${i}` }] };
        yield { id: "no-messages" };
        yield {
          id: "full",
          body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "full body" }] },
        };
      }
      static override async download(items: AsyncIterable<BatchOutputItem>) {
        const before = outputs.length;
        await collect(items, outputs);
        calls.push(outputs.length - before);
      }
      static async downloadError(items: AsyncIterable<BatchErrorItem>) {
        await collect(items, errors);
      }
    }
    const result = await Runner.run({ dir, builtins: officialPlugins });
    expect(result.status).toBe("partial");
    expect(result.report).toMatchObject({ read: 11, succeeded: 10, failed: 1, unaccounted: 0 });
    expect(
      checkExactlyOnce(
        outputs.map((o) => o.id),
        [...Array.from({ length: 9 }, (_, i) => `r${i + 1}`), "full"],
      ),
    ).toEqual({
      missing: [],
      duplicated: [],
      extra: [],
    });
    // one download() call per delivered shard of ≤ 4 requests
    expect(calls.every((n) => n > 0 && n <= 4)).toBe(true);
    const first = outputs.find((o) => o.id === "r1")!;
    expect(first).toMatchObject({ status: "success", content: "hello 1", error: null, model: "gpt-4o-mini" });
    expect(first.usage?.input_tokens).toBeGreaterThan(0);
    expect((first.response as { choices: unknown[] }).choices).toHaveLength(1);
    expect(first.input).toMatchObject({ id: "r1" });
    expect(errors).toEqual([
      expect.objectContaining({
        id: "no-messages",
        status: "failed",
        error: expect.objectContaining({ code: "invalid_input" }),
      }),
    ]);
    expect(fs.existsSync(path.join(dir, ".batchpipe/routing/state.db"))).toBe(true);
  });

  it("hands failures to download() with status failed when downloadError is not defined", async () => {
    const outputs: BatchOutputItem[] = [];
    class Runner extends BatchRunner {
      static override workConfig = {
        name: "no-error-callback",
        model: "gpt-4o-mini",
        provider: EMULATOR,
        batch: FAST,
      };
      static override *upload(): Iterable<BatchInputItem> {
        yield { id: 1, messages: [{ role: "user", content: "one" }] };
        yield { id: 2, input: "not a chat request" };
      }
      static override async download(items: AsyncIterable<BatchOutputItem>) {
        await collect(items, outputs);
      }
    }
    const result = await Runner.run({ dir: tempDir(), builtins: officialPlugins });
    expect(result.report).toMatchObject({ succeeded: 1, failed: 1 });
    expect(outputs.map((o) => [o.id, o.status]).sort()).toEqual([
      ["1", "success"],
      ["2", "failed"],
    ]);
    expect(outputs.find((o) => o.id === "2")!.error?.code).toBeTruthy();
  });

  it("runs /v1/moderations, an endpoint the prompt transform takes too", async () => {
    const outputs: BatchOutputItem[] = [];
    class Runner extends BatchRunner {
      static override workConfig = {
        name: "moderations",
        endpoint: "/v1/moderations",
        model: "omni-moderation-latest",
        // the emulator's batches take OpenAI's four classic endpoints unless told otherwise
        provider: { use: "emulator", emulator: { timeScale: 3600, endpoints: ["/v1/moderations"] } },
        batch: FAST,
      };
      static override *upload(): Iterable<BatchInputItem> {
        yield { id: "m1", input: "a harmless sentence" };
      }
      static override async download(items: AsyncIterable<BatchOutputItem>) {
        await collect(items, outputs);
      }
    }
    const result = await Runner.run({ dir: tempDir(), builtins: officialPlugins });
    expect(result.report).toMatchObject({ read: 1, succeeded: 1, failed: 0 });
    expect((outputs[0]!.response as { results: { flagged: boolean }[] }).results).toEqual([
      expect.objectContaining({ flagged: false }),
    ]);
  });

  it("rejects a bad workConfig with every problem and a hint", async () => {
    class Runner extends BatchRunner {
      static override workConfig = { name: "bad name!", endpoint: "/v1/chat", typo: true } as never;
    }
    const error = (await Runner.run({ dir: tempDir(), builtins: officialPlugins }).catch(
      (e) => e,
    )) as BatchpipeError;
    expect(error).toBeInstanceOf(BatchpipeError);
    expect(error.code).toBe("SPEC_INVALID");
    expect(error.message).toContain("Runner.workConfig has 3 problems");
    expect(error.message).toContain("Runner.workConfig.endpoint");
    expect(error.message).toContain("unknown key(s) typo");
    expect(error.details?.find((d) => d.message.includes("endpoint"))?.hint).toContain(
      "/v1/chat/completions",
    );
  });

  it("an unknown key in a nested workConfig object gets that object's keys and the closest one", async () => {
    class R extends BatchRunner {
      static override workConfig = { name: "nested", batch: { poll_intervl: "1s" } };
    }
    const error = (await R.run({ dir: tempDir(), builtins: officialPlugins }).catch(
      (e) => e,
    )) as BatchpipeError;
    expect([error.code, error.message, error.hint]).toMatchInlineSnapshot(`
      [
        "SPEC_INVALID",
        "R.workConfig.batch: unknown key(s) poll_intervl",
        "did you mean "poll_interval" for "poll_intervl"? The keys of batch are max_requests, max_bytes, max_enqueued_tokens, max_attempts, poll_interval, max_outage, cache_max_size, max_cost, plugin_timeout, deadline.",
      ]
    `);
    class Top extends BatchRunner {
      static override workConfig = { name: "top", modle: "gpt-4o-mini" };
    }
    const top = (await Top.run({ dir: tempDir(), builtins: officialPlugins }).catch(
      (e) => e,
    )) as BatchpipeError;
    expect(top.hint).toMatch(/^did you mean "model" for "modle"\? The keys are name, completion_window, /);
  });

  it("without an API key: the problem is at workConfig.provider, with where a runner takes the key", async () => {
    class Reviews extends BatchRunner {
      static override workConfig = { name: "no-key", model: "gpt-4o-mini" };
      static override async *upload() {
        yield { id: "1", messages: [{ role: "user", content: "hi" }] };
      }
    }
    const error = (await Reviews.run({ dir: tempDir(), builtins: officialPlugins, env: {} }).catch(
      (e) => e,
    )) as BatchpipeError;
    expect([error.code, error.message, error.hint]).toMatchInlineSnapshot(`
      [
        "SPEC_INVALID",
        "Reviews.workConfig.provider: no OpenAI API key: OPENAI_API_KEY is not set",
        "export OPENAI_API_KEY=sk-... (or use provider: { use: emulator } to try batchpipe offline); a runner reads the environment run({ env }) gives (default process.env), and takes the provider's options in workConfig.provider ({ use, base_url?, api_key? })",
      ]
    `);
  });

  it("runSpec runs a spec object with inline plugin objects and built-in names", async () => {
    const dir = tempDir();
    const source = defineSource({
      name: "numbers",
      options: z.strictObject({ count: z.number().int() }),
      async *read({ options }) {
        for (let i = 1; i <= options.count; i++)
          yield {
            data: { id: `n${i}`, text: `number ${i}` },
            position: { file: "numbers", line: i },
            cursor: i,
          };
      },
    });
    const result = await runSpec(
      {
        version: 1,
        name: "inline",
        provider: EMULATOR,
        source: { use: source, count: 7 },
        transform: {
          endpoint: "/v1/chat/completions",
          id: "{{ id }}",
          body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "{{ text }}" }] },
        },
        batch: FAST,
        sinks: [{ use: "jsonl", path: "./out/results.jsonl" }],
      },
      { dir, builtins: officialPlugins },
    );
    expect(result.report).toMatchObject({ read: 7, succeeded: 7, failed: 0 });
    const rows = readJsonl<{ id: string; output: string }>(path.join(dir, "out/results.jsonl"));
    expect(rows.map((r) => r.id).sort()).toEqual(["n1", "n2", "n3", "n4", "n5", "n6", "n7"]);
    expect(rows.find((r) => r.id === "n3")?.output).toBe("number 3");
  });
});

describe("BatchRunner resume (emulator in its own process)", () => {
  let emulator: EmulatorProcess;
  beforeAll(async () => {
    emulator = await startEmulatorProcess();
  });
  afterAll(async () => {
    await emulator?.close();
  });

  it("runSpec runs the early checks of `batchpipe run`: two sinks on one file are refused before anything is read", async () => {
    const dir = tempDir();
    let read = 0;
    const source = defineSource({
      name: "counting",
      options: z.object({}),
      async *read() {
        read++;
        yield { data: { id: "a", text: "a" }, position: { file: "x", line: 1 } };
      },
    });
    const run = runSpec(
      {
        version: 1,
        name: "two-writers",
        provider: EMULATOR,
        source: { use: source },
        transform: {
          endpoint: "/v1/chat/completions",
          id: "{{ id }}",
          body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "{{ text }}" }] },
        },
        batch: FAST,
        sinks: [
          { use: "jsonl", path: "./out/results.jsonl" },
          { use: "jsonl", path: "./out/results.jsonl" },
        ],
      },
      { dir, builtins: officialPlugins },
    );
    await expect(run).rejects.toMatchObject({ code: "SPEC_INVALID" });
    expect(read).toBe(0);
    expect(fs.existsSync(path.join(dir, ".batchpipe"))).toBe(false);
  });

  it("a download() that throws stops the run; the next run hands that shard over again (at-least-once)", async () => {
    const dir = tempDir();
    const delivered: string[][] = [];
    let failOn = 2;
    let refused: string[] = [];
    class Runner extends BatchRunner {
      static override workConfig = {
        name: "resume",
        model: "gpt-4o-mini",
        provider: { use: "openai" as const, base_url: emulator.url },
        batch: { poll_interval: "50ms", max_requests: 5 },
      };
      static override async *upload(): AsyncIterable<BatchInputItem> {
        for (let i = 1; i <= 20; i++) yield { id: `x${i}`, messages: [{ role: "user", content: `m${i}` }] };
      }
      static override async download(items: AsyncIterable<BatchOutputItem>) {
        const ids: string[] = [];
        for await (const item of items) ids.push(item.id);
        if (--failOn === 0) {
          refused = ids;
          throw new Error("disk full");
        }
        delivered.push(ids);
      }
    }
    const env = { OPENAI_API_KEY: "sk-test" };
    const error = (await Runner.run({ dir, env, builtins: officialPlugins }).catch(
      (e) => e,
    )) as BatchpipeError;
    expect(error.code).toBe("PLUGIN_FAILED");
    expect(error.message).toContain("Runner.download() threw: disk full");
    expect(delivered).toHaveLength(1);
    const result = await Runner.run({ dir, env, builtins: officialPlugins });
    expect(result.report).toMatchObject({ read: 20, succeeded: 20, failed: 0, unaccounted: 0 });
    const all = delivered.flat();
    // the shard download() refused came back in the resumed run
    expect(refused.length).toBeGreaterThan(0);
    expect(delivered.slice(1).flat()).toEqual(expect.arrayContaining(refused));
    expect(
      checkExactlyOnce(
        all,
        Array.from({ length: 20 }, (_, i) => `x${i + 1}`),
      ),
    ).toEqual({
      missing: [],
      duplicated: [],
      extra: [],
    });
    // the resumed run paid for nothing again: one batch per shard of 5, each input once
    const batches = (await emulator.state()).batches.filter((b) => b.metadata?.batchpipe_run !== undefined);
    expect(batches).toHaveLength(4);
    expect(new Set(batches.map((b) => b.input_sha256)).size).toBe(4);
  });
});
