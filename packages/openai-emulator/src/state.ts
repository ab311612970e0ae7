import type { BatchEngine } from "./batches/engine.js";
import type { QueueOccupancy } from "./batches/queue.js";
import type { BatchError, BatchObject, BatchStatus } from "./batches/types.js";
import type { EmulatorContext } from "./context.js";

/** The JSON of GET /_emulator/state. */
export interface EmulatorState {
  /** Virtual now, unix seconds. */
  now: number;
  time_scale: number;
  /** Enqueued-token queue occupancy per model (models with a limit or with anything enqueued). */
  queues: Record<string, QueueOccupancy>;
  /** Calls per route key, e.g. "POST /v1/batches", "GET /v1/batches/:id". */
  calls: Record<string, number>;
  batches: BatchState[];
  files: FileState[];
  /** token_limit_exceeded, batches_created, batches_<terminal status>, faults_injected, lines_executed, ... */
  counters: Record<string, number>;
}

export interface BatchState {
  id: string;
  status: BatchStatus;
  model: string | null;
  endpoint: string;
  metadata: Record<string, string> | null;
  request_counts: BatchObject["request_counts"];
  input_file_id: string;
  /** sha256 (hex) of the input file content at create time; null if the file did not exist. */
  input_sha256: string | null;
  estimated_tokens: number;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  errors: BatchError[] | null;
  usage: BatchObject["usage"];
}

export interface FileState {
  id: string;
  purpose: string;
  bytes: number;
  filename: string;
  created_at: number;
  sha256: string;
}

const BASE_COUNTERS = [
  "token_limit_exceeded",
  "request_limit_exceeded",
  "batches_created",
  "batches_completed",
  "batches_failed",
  "batches_expired",
  "batches_cancelled",
  "creation_rate_limited",
  "faults_injected",
  "lines_executed",
  "lines_failed",
];

export function snapshotState(
  ctx: EmulatorContext,
  engine: BatchEngine,
  calls: Map<string, number>,
): EmulatorState {
  const counters: Record<string, number> = {};
  for (const name of BASE_COUNTERS) counters[name] = 0;
  Object.assign(counters, ctx.counters);
  return {
    now: ctx.clock.nowSeconds(),
    time_scale: ctx.options.timeScale,
    queues: engine.queue.snapshot(ctx.options.queueLimits),
    calls: Object.fromEntries(calls),
    batches: engine.records().map(({ batch, inputSha256, estimatedTokens }) => ({
      id: batch.id,
      status: batch.status,
      model: batch.model,
      endpoint: batch.endpoint,
      metadata: batch.metadata ? { ...batch.metadata } : null,
      request_counts: { ...batch.request_counts },
      input_file_id: batch.input_file_id,
      input_sha256: inputSha256,
      estimated_tokens: estimatedTokens,
      output_file_id: batch.output_file_id,
      error_file_id: batch.error_file_id,
      created_at: batch.created_at,
      errors: batch.errors ? batch.errors.data.map((e) => ({ ...e })) : null,
      usage: structuredClone(batch.usage),
    })),
    files: ctx.store
      .all()
      .sort((a, b) => a.seq - b.seq)
      .map((f) => ({
        id: f.id,
        purpose: f.purpose,
        bytes: f.bytes,
        filename: f.filename,
        created_at: f.created_at,
        sha256: f.sha256,
      })),
    counters,
  };
}
