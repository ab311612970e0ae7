/**
 * OpenAI's Files + Batches objects as the client hands them over, normalised (normalise.ts):
 * "" / undefined file ids are null, `errors` is an array, statuses are lower-case.
 */
import type { Readable } from "node:stream";

export type BatchStatus =
  | "validating"
  | "failed"
  | "in_progress"
  | "finalizing"
  | "completed"
  | "expired"
  | "cancelling"
  | "cancelled";

export interface BatchErrorInfo {
  code: string | null;
  message: string;
  line: number | null;
  param: string | null;
}

export interface BatchInfo {
  id: string;
  status: BatchStatus;
  endpoint: string;
  model: string | null;
  input_file_id: string;
  /** null when absent ("" and undefined are normalised to null) */
  output_file_id: string | null;
  error_file_id: string | null;
  errors: BatchErrorInfo[];
  request_counts: { total: number; completed: number; failed: number };
  metadata: Record<string, string> | null;
  created_at: number;
  expires_at: number | null;
  completed_at: number | null;
  usage: { input_tokens: number; output_tokens: number; total_tokens: number; cached_tokens?: number } | null;
}

export interface FileInfo {
  id: string;
  filename: string;
  bytes: number;
  purpose: string;
  created_at: number;
}

export interface CreateBatchRequest {
  input_file_id: string;
  endpoint: string;
  completion_window: string;
  /** batchpipe tags every batch: { batchpipe_name, batchpipe_run, batchpipe_shard, batchpipe_attempt } */
  metadata: Record<string, string>;
}

export interface UploadOptions {
  /** the name the file is stored under; an upload is found again by name and size */
  filename: string;
  signal?: AbortSignal;
  /**
   * An earlier upload of this file may have reached the server (a crash): look for a file of this
   * name and size created since `since` (unix seconds) before uploading.
   */
  lookFirst?: { since: number };
}

/** Files + Batches over HTTP, every call with retries; see client.ts. */
export interface OpenAIClient {
  /**
   * Upload a batch input file (streamed from disk). Idempotent by `filename`: when the call fails
   * after the server may have stored it, it looks for a file with the same filename and size
   * before uploading again.
   */
  uploadFile(path: string, options: UploadOptions): Promise<FileInfo>;
  /**
   * Create a batch. Idempotent by metadata: on an ambiguous failure (5xx, timeout, dropped
   * response) it lists recent batches and returns the one with the same batchpipe_* metadata
   * instead of creating a second. A synchronous 400 token_limit_exceeded is returned as
   * `{ queueFull: true, message }` (not thrown).
   */
  createBatch(
    request: CreateBatchRequest,
    options?: { signal?: AbortSignal },
  ): Promise<{ batch: BatchInfo } | { queueFull: true; message: string }>;
  /** null when the batch no longer exists (404) */
  retrieveBatch(id: string, options?: { signal?: AbortSignal }): Promise<BatchInfo | null>;
  /** a batch that is gone (404) or already ended (409) is not an error */
  cancelBatch(id: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** newest first */
  listBatches(options?: { signal?: AbortSignal }): AsyncIterable<BatchInfo>;
  /** files with the given purpose (default all), newest first */
  listFiles(options?: { purpose?: string; signal?: AbortSignal }): AsyncIterable<FileInfo>;
  /** the file's content as a byte stream (never buffered whole) */
  downloadFile(id: string, options?: { signal?: AbortSignal }): Promise<Readable>;
  /** deleting a file that no longer exists is not an error */
  deleteFile(id: string, options?: { signal?: AbortSignal }): Promise<void>;
  close(): Promise<void>;
}
