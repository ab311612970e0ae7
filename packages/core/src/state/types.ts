/**
 * The rows of the run state as the engine sees them: runs with their totals and counters, shards
 * (one per batch attempt) and the identical-request fan-out. schema.ts maps them to columns.
 */
import type { JsonValue } from "../plugin.js";
import type { BatchSnapshot } from "../provider/contract.js";

/** skipped: the dataset was already processed; failed: the read phase failed (nothing was submitted) */
export type RunStatus = "reading" | "running" | "done" | "cancelled" | "skipped" | "failed";

export type ShardStatus =
  /** written to disk, not yet submitted */
  | "pending"
  /** intent: submitting it (the batch's id is unknown until the call returns) */
  | "submitting"
  /** the provider refused it for its queue; waits for capacity, costs no attempt */
  | "queued"
  /** a batch is open at the provider */
  | "open"
  /** the batch is terminal; its results are not delivered yet */
  | "ended"
  /** results delivered (and retries, if any, scheduled as a new shard) */
  | "collected"
  /** never submitted (the run was cancelled) */
  | "skipped";

export interface RunTotals {
  /** records read from the source (valid and invalid) */
  read: number;
  invalid: number;
  /** records that failed before any request existed (template_error, request_too_large) */
  rejected: number;
  /** distinct requests written to shards */
  requests: number;
  /** records whose request was identical to an earlier one (sent once, fanned back) */
  identical: number;
  /** distinct requests answered from the result cache (not sent); absent in runs of older versions */
  cached?: number;
  /** records answered from the result cache: those requests and the records identical to them */
  cachedRecords?: number;
  /** what the cached requests cost when they were paid (batch prices of their usage) */
  cachedCost?: number;
  /** cached requests that went to a model without a known price when paid: not in cachedCost */
  cachedUnpriced?: number;
  shards: number;
  estimatedInputTokens: number;
  estimatedOutputTokens: number;
  estimatedCost: number | null;
  /** the same requests at live prices (batch.deadline's fallback and its max_cost check); absent in runs of older versions */
  estimatedLiveCost?: number | null;
}

export interface RunCounters {
  succeeded: number;
  failed: number;
  failedByCode: Record<string, number>;
  /** requests sent again after a retryable failure */
  retried: number;
  /** output lines whose custom_id was unknown, duplicated or that could not be parsed */
  unexpected: number;
  /** requests absent from both the output and the error file */
  missing: number;
  /** batches created (queue refusals included) */
  batches: number;
  queueRefusals: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
  /** successes answered through the live API after batch.deadline (in `cost` at live prices) */
  answeredLive: number;
  /** paid requests of a model without a known price: in the tokens, not in `cost` (unknown) */
  unpriced: number;
  /**
   * successes whose answer the model cut short (partial output: max_tokens reached, or a content
   * filter), among `succeeded`, by reason (CutReason); empty in runs of older versions. The one
   * record of them: their total is its sum (cutTotal), never kept beside it to disagree
   */
  cutByReason: Record<string, number>;
  /**
   * the first final failure of each code (failedByCode's keys): the report shows it, so a run of a
   * million records that all fail the same way says why without opening the error sink; empty in
   * runs of older versions
   */
  firstFailures: Record<string, FailureExample>;
}

/** one failed record, for the report: its id and why it failed (the error's message) */
export interface FailureExample {
  id: string;
  message: string;
}

export interface RunRow {
  id: string;
  seq: number;
  status: RunStatus;
  createdAt: number;
  finishedAt: number | null;
  cancelRequested: boolean;
  totals: RunTotals | null;
  counters: RunCounters;
}

export interface ShardRow {
  runId: string;
  name: string;
  seq: number;
  /** the original shard this one retries (its own name for a first attempt) */
  root: string;
  /** the request attempt number of every line in it (1 for a first shard) */
  attempt: number;
  model: string;
  endpoint: string;
  /** paths relative to the state dir */
  file: string;
  metaFile: string;
  requests: number;
  bytes: number;
  tokens: number;
  outputTokens: number;
  status: ShardStatus;
  /** how many batches were created for it (a queue refusal makes another) */
  submission: number;
  /** what the provider staged for this shard's submissions (e.g. an uploaded file); null before */
  staged: JsonValue;
  batchId: string | null;
  batchStatus: string | null;
  /** when the current batch was created (ms), for the creation-rate window */
  createdAt: number | null;
  /** the batch as last seen */
  batch: BatchSnapshot | null;
}

export const emptyCounters = (): RunCounters => ({
  succeeded: 0,
  failed: 0,
  failedByCode: {},
  retried: 0,
  unexpected: 0,
  missing: 0,
  batches: 0,
  queueRefusals: 0,
  inputTokens: 0,
  outputTokens: 0,
  cost: 0,
  answeredLive: 0,
  unpriced: 0,
  cutByReason: {},
  firstFailures: {},
});

export interface FanoutRow {
  canonical: string;
  recordId: string;
  input: string;
  source: string;
}

/** fan-out rows of one root shard */
export interface FanoutBatch {
  root: string;
  rows: FanoutRow[];
}
