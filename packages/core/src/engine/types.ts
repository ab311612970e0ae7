/** The engine's inputs (a resolved pipeline), its events and its result. */
import type { ProviderPlugin, SinkPlugin, SourcePlugin, TransformPlugin } from "../plugin.js";
import type { PipelineSpec } from "../spec/schema.js";
import type { FailureExample, RunCounters, RunTotals, ShardStatus } from "../state/index.js";

export interface EngineResolvedPlugin<P> {
  plugin: P;
  options: unknown;
  use: string;
  label: string;
}

/** What the engine needs from a loaded pipeline (structurally the spec loader's `Pipeline`). */
export interface EnginePipeline {
  /** the spec file (absolute), null for a spec built in code */
  file: string | null;
  /** the folder relative paths resolve against */
  dir: string;
  spec: PipelineSpec;
  provider: EngineResolvedPlugin<ProviderPlugin>;
  source: EngineResolvedPlugin<SourcePlugin>;
  transform: EngineResolvedPlugin<TransformPlugin>;
  sinks: EngineResolvedPlugin<SinkPlugin>[];
  errors: EngineResolvedPlugin<SinkPlugin>[];
}

/** A snapshot for progress displays. */
export interface ProgressSnapshot {
  run: string;
  shards: Partial<Record<ShardStatus, number>>;
  /** records with a final outcome / all records read (so far, while `reading`) */
  done: number;
  total: number;
  /** the source is still being read beside the batches (streaming submission) */
  reading: boolean;
  /** requests at the provider (in open or ended batches, not yet delivered) */
  submitted: number;
  /** of those, finished at the provider (by its own counts where it reports them) */
  finished: number;
  succeeded: number;
  /** successes whose answer the model cut short, among `succeeded`, by reason (RunCounters.cutByReason) */
  cutByReason: Record<string, number>;
  failed: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
  /** paid requests whose model has no known price: not in `cost` */
  unpriced: number;
  /**
   * requests done per open batch's provider counts (not yet delivered); `processing`: requests the
   * provider reports as processing (Anthropic counts nothing else until a batch ends)
   */
  inFlight: { completed: number; failed: number; total: number; processing?: number };
  /** ms, from the pace of the last minute; null until something moved */
  eta: number | null;
  elapsedMs: number;
}

export type EngineEvent =
  | {
      type: "run_started";
      run: string;
      name: string;
      resumed: boolean;
      stateDir: string;
      /** an interrupted read phase continues after this many records (its last checkpoint) */
      readFrom?: number;
    }
  | { type: "read_progress"; run: string; records: number }
  | {
      type: "planned";
      run: string;
      totals: RunTotals;
      shards: {
        name: string;
        model: string;
        endpoint: string;
        requests: number;
        bytes: number;
        tokens: number;
      }[];
    }
  /** the provider staged part of a submission (e.g. uploaded the shard file) */
  | { type: "shard_staged"; run: string; shard: string }
  | {
      type: "shard_submitted";
      run: string;
      shard: string;
      batchId: string;
      submission: number;
      adopted: boolean;
    }
  | {
      type: "queue_full";
      run: string;
      shard: string;
      model: string;
      /** the queue in words: the model's (OpenAI) or "the account" (Anthropic) */
      queue: string;
      /** what the queue holds now, in its unit */
      inFlight: number;
      unit: "tokens" | "requests";
      message: string;
    }
  | {
      type: "batch_status";
      run: string;
      shard: string;
      batchId: string;
      status: string;
      counts: { total: number; completed: number; failed: number };
    }
  | {
      type: "shard_collected";
      run: string;
      shard: string;
      batchId: string | null;
      status: string;
      succeeded: number;
      failed: number;
      retried: number;
      unexpected: number;
      missing: number;
    }
  | { type: "progress"; snapshot: ProgressSnapshot }
  | { type: "warning"; run: string; message: string; code?: string }
  | { type: "budget_exceeded"; run: string; shard: string; spent: number; projected: number; maxCost: number }
  /** what `shards` shards left at the provider was deleted */
  | { type: "cleaned_up"; run: string; shards: number }
  | { type: "run_finished"; report: RunReport };

export type RunStatusResult = "completed" | "partial" | "skipped" | "cancelled";

/** The reconciliation report every run ends with. */
export interface RunReport {
  run: string;
  name: string;
  status: RunStatusResult;
  /** records read from the source */
  read: number;
  succeeded: number;
  failed: number;
  failedByCode: Record<string, number>;
  /** the first failure of each code in failedByCode: its record id and message */
  firstFailures: Record<string, FailureExample>;
  retried: number;
  unexpected: number;
  missing: number;
  /** read − succeeded − failed: must be 0 */
  unaccounted: number;
  identical: number;
  /** records answered from the result cache (its requests and the records identical to them) */
  cached: number;
  /** distinct requests answered from the result cache: not sent */
  cachedRequests: number;
  /** what the cached requests cost when they were paid: what this run did not spend */
  cachedSaved: number;
  /** cached requests paid at a price batchpipe did not know: what they saved is not in cachedSaved */
  cachedUnpriced: number;
  /** successes (records, identical ones each counted) answered through the live API after batch.deadline, at live prices (in `cost`) */
  answeredLive: number;
  /**
   * successes whose answer the model cut short, among `succeeded` (their rows hold partial output):
   * every answer this run delivered, those from the result cache included
   */
  cut: number;
  /** `cut` by reason: `max_tokens` (the request's output-token limit), `content_filter` */
  cutByReason: Record<string, number>;
  batches: number;
  queueRefusals: number;
  shards: number;
  inputTokens: number;
  outputTokens: number;
  /** at batch prices (and live ones for `answeredLive`), of the requests whose model has a known price */
  cost: number;
  /** requests paid for (in the tokens) whose model has no known price: not in `cost`, which is then a floor */
  unpriced: number;
  estimatedCost: number | null;
  durationMs: number;
}

/** How the engine cuts its work; the defaults suit every run. Tests set them to exercise small inputs. */
export interface EngineTuning {
  /** records between read-phase checkpoints (default 10,000) */
  readCheckpointEvery?: number;
  /** requests per delivery part: sinks commit after at most this many rows of a shard (default 5,000) */
  deliveryPartSize?: number;
  /** ms after its creation that a batch not yet ended is cancelled (default: completion window + stuckGraceMs) */
  batchDeadlineMs?: number;
  /** ms a batch may stay unended past its deadline and a cancel before it is given up as batch_stuck (default 1 h) */
  stuckGraceMs?: number;
}

export interface RunOptions extends EngineTuning {
  signal?: AbortSignal | undefined;
  onEvent?: ((event: EngineEvent) => void) | undefined;
  /** default: `.batchpipe/<name>` beside the spec */
  stateDir?: string | undefined;
  /** run on a new state although the provider has batches of this pipeline (STATE_LOST) */
  force?: boolean | undefined;
  /**
   * Send every request, none answered from the result cache (as batch.allow_same_dataset: true);
   * the successes still refresh the cache. Kept with the run: its resumes send every request too.
   */
  noCache?: boolean | undefined;
  env?: Record<string, string | undefined> | undefined;
  /**
   * Where a record id was already delivered for this pipeline (watch mode: by an earlier file), or
   * undefined. Such a record fails as `duplicate_id` (the first occurrence wins) instead of being sent.
   */
  deliveredBefore?: (id: string) => string | undefined;
}

export interface RunResult {
  run: string;
  status: RunStatusResult;
  report: RunReport;
  /** 0 all succeeded (or skipped), 3 some requests failed */
  exitCode: 0 | 3;
}

export type { RunCounters, RunTotals };

/**
 * Run `fn` with a signal of its own that follows `parent`. Provider calls hand their signal to the
 * SDK, which never removes its abort listener: a per-call signal keeps the run's signal clean.
 */
export async function withCallSignal<T>(
  parent: AbortSignal,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const onAbort = () => controller.abort(parent.reason);
  if (parent.aborted) controller.abort(parent.reason);
  else parent.addEventListener("abort", onAbort, { once: true });
  try {
    return await fn(controller.signal);
  } finally {
    parent.removeEventListener("abort", onAbort);
  }
}
