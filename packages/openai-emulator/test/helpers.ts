import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import type { Batch } from "openai/resources/batches";
import { createEmulator, type Emulator, type EmulatorOptions } from "../src/index.js";

export interface Harness {
  emu: Emulator;
  client: OpenAI;
  dir: string;
  close(): Promise<void>;
}

export async function startHarness(options: EmulatorOptions = {}, maxRetries = 0): Promise<Harness> {
  const emu = await createEmulator(options);
  const client = new OpenAI({ baseURL: emu.url, apiKey: "test", maxRetries });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "emu-test-"));
  return {
    emu,
    client,
    dir,
    async close() {
      await emu.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function chatLine(customId: string, content: string, model = "gpt-4o-mini", extra: object = {}) {
  return {
    custom_id: customId,
    method: "POST",
    url: "/v1/chat/completions",
    body: { model, messages: [{ role: "user", content }], ...extra },
  };
}

export function writeJsonl(dir: string, name: string, lines: unknown[]): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `${lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n")}\n`);
  return file;
}

export async function upload(client: OpenAI, file: string) {
  return client.files.create({ file: fs.createReadStream(file), purpose: "batch" });
}

export async function submit(
  h: Harness,
  lines: unknown[],
  endpoint = "/v1/chat/completions",
  metadata?: Record<string, string>,
) {
  const file = writeJsonl(h.dir, `in-${Math.random().toString(36).slice(2)}.jsonl`, lines);
  const uploaded = await upload(h.client, file);
  return h.client.batches.create({
    input_file_id: uploaded.id,
    endpoint: endpoint as "/v1/chat/completions",
    completion_window: "24h",
    metadata: metadata ?? null,
  });
}

export interface ResultLine {
  id: string;
  custom_id: string;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field in tests
  response: { status_code: number; request_id: string; body: any } | null;
  error: { code: string; message: string } | null;
}

const TERMINAL = new Set(["completed", "failed", "expired", "cancelled"]);

/** Poll until the batch is terminal (or `until` says stop); returns the last batch and every status seen. */
export async function waitForBatch(
  client: OpenAI,
  id: string,
  opts: { timeoutMs?: number; until?: (b: Batch) => boolean } = {},
): Promise<{ batch: Batch; statuses: string[] }> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  const statuses: string[] = [];
  for (;;) {
    const batch = await client.batches.retrieve(id);
    if (statuses[statuses.length - 1] !== batch.status) statuses.push(batch.status);
    if (opts.until ? opts.until(batch) : TERMINAL.has(batch.status)) return { batch, statuses };
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${batch.status} after timeout`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function readLinesOf(client: OpenAI, fileId: string | null | undefined): Promise<ResultLine[]> {
  if (!fileId) return [];
  const res = await client.files.content(fileId);
  const text = await res.text();
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l));
}
