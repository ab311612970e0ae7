/** Everything that shapes the emulator. All fields are optional; see README.md for the defaults. */
export interface EmulatorOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** When set, `Authorization: Bearer <apiKey>` must match it exactly; otherwise any bearer token passes. */
  apiKey?: string;
  /** Seed for ids, output order, fault and line-rule rates. Default 1. */
  seed?: number;
  /** Virtual seconds per real second (e.g. 3600: an hour passes in a second). Default 1. */
  timeScale?: number;
  /** Where files live. Default: a fresh temp dir, removed on close (a given dir is kept). */
  dataDir?: string;
  /** Enqueued-token limit per model (estimated input tokens of all non-terminal batches). Default unlimited. */
  queueLimits?: Record<string, number>;
  /** Enqueued-request cap per embedding model (batches on /v1/embeddings). Default 1,000,000. */
  maxEnqueuedEmbeddingRequests?: number;
  /** Largest accepted upload in bytes; larger gets 400 "File is too large.". Default 512 MiB. */
  maxUploadBytes?: number;
  /** Reject a `purpose: batch` upload whose first line is not a JSON object (or that is empty) with 400. Default false. */
  uploadJsonlCheck?: boolean;
  /** Largest batch input file in bytes (checked when the batch validates). Default 209,715,200. */
  maxBatchBytes?: number;
  /** Most request lines per batch (too_many_tasks). Default 50,000. */
  maxBatchLines?: number;
  /** Most embedding inputs per batch (array inputs count one by one). Default 50,000. */
  maxEmbeddingInputs?: number;
  /** Batch creations per (virtual) hour before 429. Default 2,000. */
  creationRateLimitPerHour?: number;
  /** Shuffle output/error file lines (seeded). Default true. */
  shuffleOutput?: boolean;
  /** Report absent output/error file ids as "" instead of null (seen at OpenAI and Azure). Default false. */
  emptyStringIds?: boolean;
  /** Refuse over-queue batches synchronously with 400 token_limit_exceeded at create (Azure fail-fast). Default false. */
  failFastTokenLimit?: boolean;
  /** Unknown input_file_id gives a synchronous 400 at create (2024 behaviour) instead of a failed batch. Default false. */
  syncFileCheck?: boolean;
  /** Supported batch endpoints. Default the four OpenAI lists in its error message. */
  endpoints?: string[];
  /** Known batch models: exact names, or prefixes ending in "*". Default common gpt-*, o*, text-embedding-* names. */
  models?: string[];
  /** Latencies in virtual seconds (scaled by timeScale). */
  latencies?: LatencyOptions;
  /** Control-plane faults, matched in order (first match wins). */
  faults?: FaultRule[];
  /** Per-line failures, matched in order (first match wins). */
  lineRules?: LineRule[];
  /** Each batch processes this many lines and then expires (the rest become batch_expired). */
  expireAfterLines?: number;
  /** Anthropic Message Batches: known models (exact names, or prefixes ending in "*"). Default ["claude-*"]. */
  anthropicModels?: string[];
  /** Anthropic: batch requests in the processing queue, across all models; a create past it gets 429. Default 100,000. */
  anthropicQueueLimit?: number;
  /** Anthropic: most requests per batch. Default 100,000. */
  anthropicMaxBatchRequests?: number;
  /** Anthropic: largest create body in bytes (413 request_too_large). Default 256 MB (256,000,000, the stricter reading). */
  anthropicMaxBatchBytes?: number;
  /** Batch objects carry `expires_at: null` (some compatible servers send none). Default false. */
  omitExpiresAt?: boolean;
}

export interface LatencyOptions {
  /** validating → in_progress/failed, on top of the streaming scan. Default 0.1. */
  validation?: number;
  /** Lines executed per virtual second while in_progress. Default 20,000. */
  linesPerSecond?: number;
  /** Time spent in finalizing. Default 0.1. */
  finalizing?: number;
  /** cancelling → cancelled (in-flight drain). Default 0.1. */
  cancelDrain?: number;
  /** Extra time after expires_at before a batch actually expires ("eventually"). Default 0. */
  expiryLag?: number;
  /** Queue capacity is released this long after a batch becomes terminal. Default 0. */
  queueReleaseLag?: number;
  /** A new file is invisible to batches for this long after upload ("Cannot find file" race). Default 0. */
  fileVisibility?: number;
}

export type FaultKind = "error" | "delay" | "drop" | "reset";

/**
 * A control-plane fault. `route` is "METHOD /v1/path" with `:id` placeholders
 * (e.g. "POST /v1/batches", "GET /v1/batches/:id", "GET /v1/files/:id/content") or "*".
 * It applies when `calls` lists the 1-based index of this call of the route, or with probability `rate`
 * (seeded); with neither, to every call.
 */
export interface FaultRule {
  route: string;
  calls?: number[];
  rate?: number;
  /** error (default): answer `status` without doing the work; delay: wait `delayMs`, then work normally;
   *  drop: do the work (e.g. the batch is created) but answer `status` instead;
   *  reset: close the connection without an answer (a network outage; the work is not done). */
  kind?: FaultKind;
  /** HTTP status for error/drop. Default 500 (429 sets code rate_limit_exceeded), 200 when `body` is set. */
  status?: number;
  /**
   * For error/drop: this raw text is the answer instead of an API error envelope (an HTML page from
   * a proxy, an empty body, JSON of the wrong shape), with `contentType` (default text/html).
   */
  body?: string;
  contentType?: string;
  /** `retry-after` header in seconds. */
  retryAfter?: number;
  /** `retry-after-ms` header. */
  retryAfterMs?: number;
  /** `x-should-retry` header. */
  shouldRetry?: boolean;
  /** For kind delay (also added before error/drop answers when set). */
  delayMs?: number;
  message?: string;
}

export type LineErrorKind =
  | "context_length_exceeded"
  | "model_not_found"
  | "rate_limit_exceeded"
  | "server_error"
  | "content_policy_violation"
  | "request_timeout";

/**
 * A per-line failure. A line matches when every given condition holds: its custom_id is in `customIds`,
 * matches `customIdPattern` (a RegExp source), and a seeded draw is below `rate`. No condition: every line.
 * Live requests follow them too, named by OpenAI's `user` or Anthropic's `metadata.user_id` (live-rules.ts).
 */
export interface LineRule {
  customIds?: string[];
  customIdPattern?: string;
  rate?: number;
  /** Required unless `oddity` or `stop` is set. */
  error?: LineErrorKind;
  /** Override the HTTP status of the error line (not for request_timeout). */
  status?: number;
  /** Fail only the first `attempts` executions of a custom_id (counted across batches); omitted: always. */
  attempts?: number;
  message?: string;
  /**
   * Test-only broken output instead of this line's result (`error` is then ignored): `omit` writes
   * no line in either file, `malformed` a cut-off non-JSON line in the output file, `unknown_id` a
   * success line under the custom_id `unknown-<custom_id>`, `long_line` a line of `lineBytes` bytes
   * that never closes its JSON (a runaway or endless line).
   */
  oddity?: LineOddity;
  /** For oddity long_line: the line's length in bytes. Default 1 MiB. */
  lineBytes?: number;
  /**
   * A success the model stopped before its end instead of an error (`error` is then ignored):
   * `content_filter` answers the first half of the text, with chat's and completions'
   * `finish_reason: "content_filter"`, the Responses API's `status: "incomplete"` and
   * `incomplete_details.reason: "content_filter"`, Anthropic's `stop_reason: "refusal"`.
   */
  stop?: LineStop;
}

export type LineOddity = "omit" | "malformed" | "unknown_id" | "long_line";

export type LineStop = "content_filter";

export interface ResolvedOptions {
  port: number;
  host: string;
  apiKey: string | undefined;
  seed: number;
  timeScale: number;
  dataDir: string | undefined;
  queueLimits: Record<string, number>;
  maxEnqueuedEmbeddingRequests: number;
  maxUploadBytes: number;
  uploadJsonlCheck: boolean;
  maxBatchBytes: number;
  maxBatchLines: number;
  maxEmbeddingInputs: number;
  creationRateLimitPerHour: number;
  shuffleOutput: boolean;
  emptyStringIds: boolean;
  failFastTokenLimit: boolean;
  syncFileCheck: boolean;
  endpoints: string[];
  models: string[];
  latencies: Required<LatencyOptions>;
  faults: FaultRule[];
  lineRules: LineRule[];
  expireAfterLines: number | undefined;
  anthropicModels: string[];
  anthropicQueueLimit: number;
  anthropicMaxBatchRequests: number;
  anthropicMaxBatchBytes: number;
  omitExpiresAt: boolean;
}

export const DEFAULT_ENDPOINTS = [
  "/v1/chat/completions",
  "/v1/completions",
  "/v1/embeddings",
  "/v1/responses",
];

export const DEFAULT_MODELS = [
  "gpt-*",
  "chatgpt-*",
  "o1*",
  "o3*",
  "o4*",
  "text-embedding-*",
  "omni-moderation-*",
  "text-moderation-*",
  "davinci-002",
  "babbage-002",
];

export function resolveOptions(options: EmulatorOptions = {}): ResolvedOptions {
  return mergeOptions(
    {
      port: 0,
      host: "127.0.0.1",
      apiKey: undefined,
      seed: 1,
      timeScale: 1,
      dataDir: undefined,
      queueLimits: {},
      maxEnqueuedEmbeddingRequests: 1_000_000,
      maxUploadBytes: 512 * 1024 * 1024,
      uploadJsonlCheck: false,
      maxBatchBytes: 209_715_200,
      maxBatchLines: 50_000,
      maxEmbeddingInputs: 50_000,
      creationRateLimitPerHour: 2000,
      shuffleOutput: true,
      emptyStringIds: false,
      failFastTokenLimit: false,
      syncFileCheck: false,
      endpoints: DEFAULT_ENDPOINTS,
      models: DEFAULT_MODELS,
      latencies: {
        validation: 0.1,
        linesPerSecond: 20_000,
        finalizing: 0.1,
        cancelDrain: 0.1,
        expiryLag: 0,
        queueReleaseLag: 0,
        fileVisibility: 0,
      },
      faults: [],
      lineRules: [],
      expireAfterLines: undefined,
      anthropicModels: ["claude-*"],
      anthropicQueueLimit: 100_000,
      anthropicMaxBatchRequests: 100_000,
      anthropicMaxBatchBytes: 256_000_000,
      omitExpiresAt: false,
    },
    options,
  );
}

/**
 * Overlay `patch` on `base` (latencies merge field by field; arrays and maps are replaced). `patch`
 * was checked first (checkEmulatorOptions: createEmulator, configure), so a typo in a JSON config is
 * not silently ignored.
 */
export function mergeOptions(base: ResolvedOptions, patch: EmulatorOptions): ResolvedOptions {
  const out: ResolvedOptions = { ...base, latencies: { ...base.latencies } };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (key === "latencies") {
      for (const [k, v] of Object.entries(value as LatencyOptions)) {
        if (v !== undefined) (out.latencies as unknown as Record<string, number>)[k] = v;
      }
    } else {
      (out as unknown as Record<string, unknown>)[key] = value;
    }
  }
  return out;
}
