import type { QueueDemand } from "./queue.js";

export type BatchStatus =
  | "validating"
  | "failed"
  | "in_progress"
  | "finalizing"
  | "completed"
  | "expired"
  | "cancelling"
  | "cancelled";

export interface BatchError {
  code: string;
  line: number | null;
  message: string;
  param: string | null;
}

export interface BatchUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/** The public Batch object, as OpenAI returns it. */
export interface BatchObject {
  id: string;
  object: "batch";
  endpoint: string;
  model: string | null;
  errors: { object: "list"; data: BatchError[] } | null;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: { total: number; completed: number; failed: number };
  metadata: Record<string, string> | null;
  usage: BatchUsage;
}

export const TERMINAL: ReadonlySet<BatchStatus> = new Set(["failed", "completed", "expired", "cancelled"]);

/** What the emulator keeps about a batch besides its public object. */
export interface BatchRecord {
  batch: BatchObject;
  seq: number;
  /** sha256 of the input file content when the batch was created (null if the file was missing). */
  inputSha256: string | null;
  estimatedTokens: number;
  /** Output file expiry (output_expires_after.seconds), if given. */
  outputExpiresAfter: number | undefined;
  /** Queue capacity this batch holds until it becomes terminal. */
  queueHold?: QueueDemand | undefined;
  /** Set by cancel; the runner stops dispatching. */
  cancel: AbortController;
}
