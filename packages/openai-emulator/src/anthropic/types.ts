export type ProcessingStatus = "in_progress" | "canceling" | "ended";

export interface RequestCounts {
  processing: number;
  succeeded: number;
  errored: number;
  canceled: number;
  expired: number;
}

/** The public MessageBatch object (timestamps are RFC 3339 strings). */
export interface MessageBatch {
  id: string;
  type: "message_batch";
  processing_status: ProcessingStatus;
  request_counts: RequestCounts;
  ended_at: string | null;
  created_at: string;
  expires_at: string;
  cancel_initiated_at: string | null;
  archived_at: string | null;
  results_url: string | null;
}

export interface BatchRequest {
  custom_id: string;
  params: Record<string, unknown>;
}

/** What the emulator keeps about an Anthropic batch. */
export interface MessageBatchRecord {
  id: string;
  seq: number;
  status: ProcessingStatus;
  createdMs: number;
  expiresMs: number;
  endedMs: number | null;
  cancelMs: number | null;
  /** the inline requests until the batch has run them */
  requests: BatchRequest[] | undefined;
  total: number;
  /** outcome counts, published only when the batch ends (the API shows 0 until then) */
  outcomes: Omit<RequestCounts, "processing">;
  /** the shuffled results file, once ended */
  resultsPath: string | null;
  resultsBytes: number;
  /** requests this batch holds in the processing queue (released after it ends) */
  queued: number;
  cancel: AbortController;
  deleted?: boolean;
}
