/**
 * The provider contract: everything the engine needs from a batch API, in no provider's dialect.
 * OpenAI's Batch API (file upload + create, metadata, a token queue per model) and Anthropic's
 * Message Batches (inline requests, no metadata, a request queue across models) both fit it without
 * special cases in the engine (DESIGN §2, reference/providers.md).
 *
 * A provider plugin has a pure part (its limits, how a request is encoded, how the convenient output
 * is taken from a response), used by `plan` and the read phase without any I/O, and an I/O part
 * (`open`) that talks to the API.
 */
import type { JsonValue, Logger, PluginContext, RequestLine, Usage } from "../plugin.js";

/** What one batch may hold and what the provider's queue counts. */
export interface ProviderLimits {
  /** requests per batch */
  maxRequests: number;
  /** bytes of encoded request lines (newlines included) per batch */
  maxBytes: number;
  /** requests that differ in one of these never share a batch (OpenAI: one model and endpoint per file) */
  batchKey: readonly ("model" | "endpoint")[];
  /**
   * The queue of work enqueued at the provider: what it counts (estimated input tokens, or requests)
   * and over what (each model, or every batch of the account).
   */
  queue: { counts: "tokens" | "requests"; per: "model" | "account" };
  /**
   * inputs per batch, summed over its requests (EncodedRequest.inputs), when the provider caps them
   * apart from requests (OpenAI: 50,000 embedding inputs, an array `input` counting each item);
   * absent or null: no such cap
   */
  maxInputs?: number | null;
  /** batch creations allowed per hour; null when the provider sets no such limit */
  createsPerHour: number | null;
  /**
   * The queue's budget in its unit when the provider's options set one (e.g. Anthropic's
   * `max_enqueued_requests`); absent or null: learnt from the provider's refusals.
   */
  maxEnqueued?: number | null;
}

/** A request as the provider will receive it. */
export interface EncodedRequest {
  /** one line of the shard file (no newline); its bytes count towards maxBytes */
  line: string;
  /** the model the request names ("" when it names none): shard key, queue and prices */
  model: string;
  /** the response's text output is JSON to be parsed (the request asked for JSON output) */
  json: boolean;
  /** what the request counts toward ProviderLimits.maxInputs; absent: 1 */
  inputs?: number;
}

/** Where a submission can be found again after a crash (metadata, or another durable tag). */
export interface SubmissionTag {
  /** the pipeline's name */
  pipeline: string;
  run: string;
  shard: string;
  /** counts the batches created for this shard (a queue refusal makes another) */
  submission: number;
  /**
   * Which state folder submitted it (a hash of its path; see findByPipeline): tells this copy's
   * batches from those of another folder running a pipeline of the same name. Optional.
   */
  state?: string;
}

/** A sealed shard to submit as one batch. */
export interface ShardSubmission {
  /** absolute path of the shard file: one encoded request per line */
  file: string;
  requests: number;
  bytes: number;
  /** the batch key's values ("" where the provider's batchKey does not split on it) */
  model: string;
  endpoint: string;
  /** e.g. "24h" */
  completionWindow: string;
  tag: SubmissionTag;
}

/** Durable facts about a batch: the engine stores them with the shard and hands them back. */
export interface BatchRef {
  id: string;
  /** the provider's own data for later calls (e.g. output file ids); opaque to the engine */
  data: JsonValue;
}

export type BatchEnding = "completed" | "expired" | "cancelled" | "failed";

/** A batch as one poll saw it. */
export interface BatchSnapshot extends BatchRef {
  /** running: poll again later; ended: its results can be read */
  state: "running" | "ended";
  /** the provider's own status word, for display */
  status: string;
  /** why it ended (when ended) */
  ending: BatchEnding | null;
  /**
   * The provider refused the batch because its queue is full (OpenAI: a failed batch with
   * token_limit_exceeded): nothing ran; the engine waits for the queue and submits again.
   */
  queueFull: string | null;
  /**
   * per-request progress while it runs; null when the provider reports none. `processing`: requests
   * still being processed, for providers that count nothing else until the batch ends (Anthropic).
   */
  counts: { total: number; completed: number; failed: number; processing?: number } | null;
  /** batch-level errors; `line` is 1-based in the shard file when the error is about one request */
  errors: { code: string; message: string; line: number | null }[];
  /** ms since the epoch; null when unknown */
  createdAt: number | null;
  /** when the provider gives up on it (ms); null when unknown */
  expiresAt: number | null;
}

/**
 * One result of an ended batch, as the provider streams them (in any order). `index`: the request's
 * 0-based line in the shard file, for providers that send ids of their own instead of the records'
 * (Anthropic's custom_id pattern): the engine then joins by it, and `id` is only for messages.
 */
export type ResultItem =
  | {
      kind: "success";
      id: string;
      index?: number;
      /** the response body */
      response: Record<string, unknown>;
      usage: Usage | null;
      /** the model that answered, when the response says */
      model: string | null;
    }
  | {
      kind: "failure";
      id: string;
      index?: number;
      error: { code: string; message: string; status_code: number | null };
      /** a new attempt can succeed (expired, cancelled, transient) */
      retryable: boolean;
    }
  /** something in the results that is not a result (counted as unexpected, never fatal) */
  | { kind: "unreadable"; reason: string };

export type SubmitResult = { batch: BatchSnapshot } | { queueFull: string };

export interface SubmitOptions {
  signal: AbortSignal;
  /** what this shard's earlier submissions staged (see `stage`), e.g. an uploaded file; null at first */
  staged: JsonValue;
  /**
   * Record what was staged so far (e.g. an uploaded file's id) before the next step: a submission
   * interrupted after it, or refused by the queue, reuses it instead of uploading again.
   */
  stage(data: JsonValue): void;
  /**
   * An earlier try of this very submission may have reached the provider (a crash, or an ambiguous
   * failure): look for what it left (an upload by name) before doing it again.
   */
  maybeStarted: boolean;
  /** the earliest time (ms) such an earlier try can have started: look no further back */
  since: number;
  /** ids of the batches the run's other shards hold: never this submission's (providers without metadata) */
  known?: readonly string[];
}

/** What find() is told besides the tags (for providers that find batches by their shape, not metadata). */
export interface FindOptions {
  since: number;
  signal: AbortSignal;
  /** what each submission staged (see SubmitOptions.stage), by tagKey(tag); absent: nothing staged */
  staged?: ReadonlyMap<string, JsonValue>;
  /** ids of the batches the run's shards hold */
  known?: readonly string[];
}

/** The I/O part of a provider: one per run. Every method retries transient failures itself. */
export interface ProviderConnection {
  /** stage and create one batch; a full queue is an answer, not an error */
  submit(shard: ShardSubmission, options: SubmitOptions): Promise<SubmitResult>;
  /**
   * After a crash: the batches that submissions with these tags created, by tagKey(tag). A tag not
   * in the answer was never created (the engine submits it again with the same tag).
   */
  find(tags: SubmissionTag[], options: FindOptions): Promise<Map<string, BatchSnapshot>>;
  /**
   * Optional: batches at the provider tagged with this pipeline's name (any run), newest first, at
   * most `limit`. The engine asks when a run starts on a new state (lost or emptied state.db) and
   * refuses to pay again without --force. A provider that cannot list by tag leaves it out.
   */
  findByPipeline?(
    pipeline: string,
    /** `state`: only batches of this SubmissionTag.state (or of none: made before it existed) */
    options: { state?: string; limit: number; signal: AbortSignal },
  ): Promise<BatchSnapshot[]>;
  /** null when the batch no longer exists */
  poll(batch: BatchRef, options: { signal: AbortSignal }): Promise<BatchSnapshot | null>;
  /** every result of an ended batch, streamed (never held whole) */
  results(batch: BatchSnapshot, options: { signal: AbortSignal }): AsyncIterable<ResultItem>;
  /**
   * ask the provider to stop the batch; what finished is still delivered. The engine always passes
   * `signal` (optional for callers of older versions): once it aborts, stop retrying and reject
   */
  cancel(batch: BatchRef, options?: { signal: AbortSignal }): Promise<void>;
  /**
   * delete what the shard left at the provider (staged data and the batch's files or the batch);
   * `signal` as cancel's
   */
  cleanUp(
    shard: { staged: JsonValue; batch: BatchRef | null },
    options?: { signal: AbortSignal },
  ): Promise<void>;
  /**
   * Optional: send one request (a line as `encode` made it) through the provider's live
   * (synchronous) API, at live prices: `batchpipe try`, and the requests still without a result
   * when a run passes `batch.deadline`. Retries transient failures (and honours retry-after)
   * itself; a failure it cannot fix is an answer, not an error.
   */
  live?(line: string, options: { signal: AbortSignal }): Promise<LiveResult>;
  close(): Promise<void>;
}

/** The answer to one live call: a success or a failure, as a batch result would be. */
export type LiveResult = Exclude<ResultItem, { kind: "unreadable" }>;

export interface ProviderContext<O> extends PluginContext<O> {
  /** for the provider's own defaults (e.g. OPENAI_API_KEY); never read at load time */
  env: Record<string, string | undefined>;
}

/** What `output` takes from a request: its endpoint and whether it asked for JSON. */
export interface OutputRequest {
  endpoint: string;
  json: boolean;
}

/**
 * Why the model stopped before its answer's end: `max_tokens` (the request's output-token limit:
 * OpenAI's finish_reason "length", the Responses API's incomplete max_output_tokens, Anthropic's
 * stop_reason "max_tokens"), `content_filter` (the provider's filter stopped it: finish_reason
 * "content_filter", Anthropic's "refusal").
 */
export type CutReason = "max_tokens" | "content_filter";

/**
 * What `output` takes from a response. `cut`: the answer was cut short (its output is partial); the
 * run counts such answers per reason and delivers them as successes. Absent: a whole answer.
 */
export type OutputResult = { ok: true; output: unknown; cut?: CutReason } | { ok: false; message: string };

/** a live call's failure (`retryable`: the engine may send the request again) */
export function liveFailure(
  id: string,
  code: string,
  message: string,
  status: number | null,
  retryable: boolean,
): LiveResult {
  return { kind: "failure", id, error: { code, message, status_code: status }, retryable };
}

/**
 * A result with the key taken out of its error message (or of why its line is unreadable): a
 * provider's per-request message can echo what it was sent, the Authorization header included.
 */
export function redactedResult(item: ResultItem, redact: (text: string) => string): ResultItem {
  if (item.kind === "failure") item.error.message = redact(item.error.message);
  else if (item.kind === "unreadable") item.reason = redact(item.reason);
  return item;
}

/** The key find() answers by. */
export function tagKey(tag: Pick<SubmissionTag, "shard" | "submission">): string {
  return `${tag.shard}#${tag.submission}`;
}

export type { Logger, RequestLine };

/**
 * A base URL as a provider's origin (ProviderPlugin.origin): undefined for the plugin's default
 * service, else the URL without its trailing slash.
 */
export function baseUrlOrigin(url: string | undefined, defaultUrl: string): string | undefined {
  const trimmed = url?.replace(/\/+$/, "");
  return !trimmed || trimmed === defaultUrl.replace(/\/+$/, "") ? undefined : trimmed;
}
