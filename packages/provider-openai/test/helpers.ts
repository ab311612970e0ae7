/** The OpenAI provider against a real emulator on loopback, through the provider contract. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type {
  BatchRef,
  BatchSnapshot,
  JsonValue,
  Logger,
  ProviderConnection,
  ResultItem,
  ShardSubmission,
  SubmissionTag,
} from "@batchpipe/core/plugin";
import { createEmulator, type EmulatorOptions } from "@batchpipe/openai-emulator";
import { afterEach } from "vitest";
import openai, { encodeRequest, type RetryInfo } from "../src/index.js";

export const KEY = "sk-test-key-0123456789";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

export function capture(): { logger: Logger; lines: string[]; retries: RetryInfo[] } {
  const lines: string[] = [];
  const retries: RetryInfo[] = [];
  const log = (message: string, data?: Record<string, unknown>) => {
    lines.push(message + JSON.stringify(data));
    if (data && typeof data.route === "string") retries.push(data as unknown as RetryInfo);
  };
  return { logger: { debug: log, info: log, warn: log, error: log }, lines, retries };
}

export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "provider-openai-"));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** open the provider as the engine does: parsed options, the environment, a logger */
export async function openProvider(
  options: Record<string, unknown>,
  env: Record<string, string | undefined> = { OPENAI_API_KEY: KEY },
  logger: Logger = capture().logger,
): Promise<ProviderConnection> {
  const controller = new AbortController();
  const connection = await openai.open({
    options: openai.options.parse(options),
    env,
    logger,
    resolvePath: (p) => path.resolve(p),
    signal: controller.signal,
  });
  cleanups.push(() => connection.close());
  return connection;
}

export async function setup(emulatorOptions: EmulatorOptions = {}, options: Record<string, unknown> = {}) {
  const emu = await createEmulator(emulatorOptions);
  cleanups.push(() => emu.close());
  const dir = tempDir();
  const { logger, lines, retries } = capture();
  const connection = await openProvider(
    { base_url: emu.url, retry_min_delay_ms: 10, retry_max_delay_ms: 50, ...options },
    { OPENAI_API_KEY: KEY },
    logger,
  );
  return { emu, dir, connection, lines, retries };
}

export const tag = (shard: string, submission = 1): SubmissionTag => ({
  pipeline: "p",
  run: "run-1",
  shard,
  submission,
});

/** a shard file of `count` chat requests r-0… as the engine writes it */
export function writeShard(
  dir: string,
  t: SubmissionTag,
  count: number,
  { model = "gpt-4o-mini", endpoint = "/v1/chat/completions" } = {},
): ShardSubmission {
  const lines = Array.from(
    { length: count },
    (_, i) =>
      encodeRequest({
        custom_id: `r-${i}`,
        url: "/v1/chat/completions",
        body: { model, messages: [{ role: "user", content: `hello ${i}` }] },
      }).line,
  );
  const file = path.join(dir, `${t.shard}-${t.submission}.jsonl`);
  fs.writeFileSync(file, `${lines.join("\n")}\n`);
  return {
    file,
    requests: count,
    bytes: fs.statSync(file).size,
    model,
    endpoint,
    completionWindow: "24h",
    tag: t,
  };
}

export interface Submitted {
  batch: BatchSnapshot;
  staged: JsonValue;
}

/** submit expecting a batch; `staged` is what the provider staged (or was given) */
export async function submit(
  connection: ProviderConnection,
  shard: ShardSubmission,
  { staged = null as JsonValue, maybeStarted = false, signal = new AbortController().signal } = {},
): Promise<Submitted> {
  let recorded = staged;
  const result = await connection.submit(shard, {
    staged,
    maybeStarted,
    since: Date.now() - 15 * 60_000,
    signal,
    stage: (data) => {
      recorded = data;
    },
  });
  if ("queueFull" in result) throw new Error(`queue full: ${result.queueFull}`);
  return { batch: result.batch, staged: recorded };
}

export async function waitEnded(connection: ProviderConnection, ref: BatchRef): Promise<BatchSnapshot> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const batch = await connection.poll(ref, { signal: new AbortController().signal });
    if (!batch) throw new Error(`batch ${ref.id} vanished`);
    if (batch.state === "ended") return batch;
    if (Date.now() > deadline) throw new Error(`batch ${ref.id} stuck in ${batch.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function collect(connection: ProviderConnection, batch: BatchSnapshot): Promise<ResultItem[]> {
  const items: ResultItem[] = [];
  for await (const item of connection.results(batch, { signal: new AbortController().signal }))
    items.push(item);
  return items;
}

export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

export const idsOf = (items: ResultItem[]) => items.map((i) => ("id" in i ? i.id : "?")).sort();
