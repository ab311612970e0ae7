/** What the Anthropic end-to-end tests share: a pipeline of awkward ids and the emulator's Anthropic state. */
import fs from "node:fs";
import path from "node:path";
import type { EmulatorProcess } from "./harness.js";

export const MODELS = ["claude-haiku-4-5", "claude-sonnet-4-5"] as const;

export const KEY = "sk-ant-e2e-0123456789abcdef";
export const env = { ANTHROPIC_API_KEY: KEY };

/** ids Anthropic's custom_id pattern refuses: slashes, colons, spaces, 100 characters */
export const awkwardId = (i: number) => `tenant/${i % 7}:doc:${i} ${"é/x:".repeat(30)}`.slice(0, 100);

export interface AnthropicState {
  queue: { processing: number; limit: number };
  batches: { id: string; processing_status: string; request_counts: Record<string, number> }[];
  paid: Record<string, number>;
  paid_twice: string[];
  /** requests (by their params) paid more than once under any custom_ids */
  params_paid_twice: { params_sha256: string; custom_ids: string[] }[];
}

export async function anthropicState(emu: EmulatorProcess): Promise<AnthropicState> {
  return ((await emu.state()) as unknown as { anthropic: AnthropicState }).anthropic;
}

export function writeAnthropicPipeline(
  dir: string,
  o: {
    name: string;
    baseUrl: string;
    n: number;
    batch?: Record<string, string | number>;
    provider?: string[];
  },
): string[] {
  const ids = Array.from({ length: o.n }, (_, i) => awkwardId(i + 1));
  fs.writeFileSync(
    path.join(dir, "data.jsonl"),
    // two models, mixed in every batch
    ids
      .map((id, i) => `${JSON.stringify({ id, text: `${o.name} review ${i + 1}`, model: MODELS[i % 2] })}\n`)
      .join(""),
  );
  const batch = { poll_interval: "50ms", ...o.batch };
  const yaml = [
    "version: 1",
    `name: ${o.name}`,
    "provider:",
    "  use: anthropic",
    `  base_url: ${o.baseUrl}`,
    "  retry_min_delay_ms: 20",
    "  retry_max_delay_ms: 200",
    ...(o.provider ?? []).map((l) => `  ${l}`),
    "source: { use: jsonl, path: ./data.jsonl }",
    "transform:",
    "  use: prompt",
    '  id: "{{ id }}"',
    "  body:",
    '    model: "{{ model }}"',
    "    max_tokens: 20",
    '    messages: [{ role: user, content: "Sentiment of: {{ text }}" }]',
    "batch:",
    ...Object.entries(batch).map(([k, v]) => `  ${k}: ${v}`),
    "sinks:",
    "  - { use: jsonl, path: ./out/results.jsonl }",
    "  - { use: sqlite, path: ./out/results.db, table: results }",
    "errors:",
    "  - { use: jsonl, path: ./out/errors.jsonl }",
  ];
  fs.writeFileSync(path.join(dir, "pipeline.yaml"), `${yaml.join("\n")}\n`);
  return ids;
}

export const reportOf = (events: { type: string }[]) =>
  (
    events.find((e) => e.type === "run_finished") as unknown as
      | { report: Record<string, unknown> }
      | undefined
  )?.report;
