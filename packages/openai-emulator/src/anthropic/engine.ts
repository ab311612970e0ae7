import { setMaxListeners } from "node:events";
import fs from "node:fs";
import { bump, type EmulatorContext } from "../context.js";
import { createIds, createRandom } from "../random.js";
import { AnthropicError, invalid, missing } from "./errors.js";
import { type AnthropicIds, anthropicIds } from "./ids.js";
import { runMessageBatch } from "./run.js";
import type { BatchRequest, MessageBatch, MessageBatchRecord } from "./types.js";

const WINDOW_MS = 24 * 3600_000;
/** results can be downloaded for 29 days; then the batch is archived */
const RETENTION_MS = 29 * 24 * 3600_000;

/** What GET /_emulator/state shows of the Anthropic side. */
export interface AnthropicState {
  /** requests held in the processing queue, across all models, and its limit */
  queue: { processing: number; limit: number };
  batches: {
    id: string;
    processing_status: MessageBatch["processing_status"];
    request_counts: MessageBatch["request_counts"];
    created_at: string;
    deleted: boolean;
  }[];
  /** per custom_id: how many times it ran (any outcome) and how many times it succeeded (was billed) */
  executions: Record<string, number>;
  paid: Record<string, number>;
  /** custom_ids billed more than once */
  paid_twice: string[];
  /**
   * requests billed more than once under any custom_ids (a resubmission under a new id included):
   * the sha256 of their params (JSON as sent) and the custom_ids of each success
   */
  params_paid_twice: { params_sha256: string; custom_ids: string[] }[];
}

/**
 * Anthropic's Message Batches: create (inline requests), retrieve, list, cancel, delete and
 * results; each batch then runs on its own (run.ts) against the shared request-count queue.
 */
export class AnthropicBatches {
  readonly ids: AnthropicIds;
  private readonly batches = new Map<string, MessageBatchRecord>();
  readonly executions = new Map<string, number>();
  /** executions of live requests (POST /v1/messages) per id, for line rules that count attempts */
  readonly liveAttempts = new Map<string, number>();
  readonly paid = new Map<string, number>();
  /** custom_ids of each success, by the sha256 of its params */
  readonly paidParams = new Map<string, string[]>();
  /** prompt prefixes written to the (simplified) prompt cache */
  readonly promptCache = new Set<string>();
  private queued = 0;
  private seq = 0;
  private life = unbounded();
  private readonly running = new Set<Promise<void>>();

  constructor(readonly ctx: EmulatorContext) {
    // a stream of its own: Anthropic traffic must not shift the OpenAI side's seeded ids
    this.ids = anthropicIds(createIds(createRandom((ctx.options.seed ^ 0x416e7468) >>> 0)));
  }

  create(requests: BatchRequest[], resultsBase: string): MessageBatch {
    const { clock, options } = this.ctx;
    const limit = options.anthropicQueueLimit;
    if (this.queued + requests.length > limit) {
      bump(this.ctx, "anthropic_queue_limited");
      throw new AnthropicError(
        429,
        `Number of batch requests in the processing queue would exceed your organization's limit of ${limit.toLocaleString("en-US")} (${this.queued.toLocaleString("en-US")} in processing, ${requests.length.toLocaleString("en-US")} requested). Please try again once some in-progress batches have ended.`,
        { headers: { "retry-after": String(this.retryAfterSeconds()) } },
      );
    }
    const now = clock.nowMs();
    const record: MessageBatchRecord = {
      id: this.ids.batch(),
      seq: this.seq++,
      status: "in_progress",
      createdMs: now,
      expiresMs: now + WINDOW_MS,
      endedMs: null,
      cancelMs: null,
      requests,
      total: requests.length,
      outcomes: { succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      resultsPath: null,
      resultsBytes: 0,
      queued: requests.length,
      cancel: unbounded(),
    };
    this.queued += record.queued;
    this.batches.set(record.id, record);
    bump(this.ctx, "anthropic_batches_created");
    // the answer is the batch as created: a small batch may run to its end before start() returns
    const created = this.view(record, resultsBase);
    this.start(record);
    return created;
  }

  retrieve(id: string, resultsBase: string): MessageBatch {
    return this.view(this.mustGet(id), resultsBase);
  }

  /** Newest first; `after_id` pages to older batches, `before_id` to newer ones. */
  list(query: { limit: number; afterId?: string; beforeId?: string }, resultsBase: string) {
    const items = [...this.batches.values()].filter((r) => !r.deleted).sort((a, b) => b.seq - a.seq);
    // a cursor is a place in the list: a deleted batch (a client deleting as it lists) keeps its
    // place; an unknown id gives an empty page, never the first page again (an endless `for await`)
    const place = (id: string) => this.batches.get(id)?.seq ?? Number.NaN;
    let page: MessageBatchRecord[];
    let hasMore: boolean;
    if (query.beforeId !== undefined) {
      const at = place(query.beforeId);
      const newer = items.filter((r) => r.seq > at);
      page = newer.slice(Math.max(0, newer.length - query.limit));
      hasMore = newer.length > query.limit;
    } else {
      let rest = items;
      if (query.afterId !== undefined) {
        const at = place(query.afterId);
        rest = items.filter((r) => r.seq < at);
      }
      page = rest.slice(0, query.limit);
      hasMore = rest.length > query.limit;
    }
    const data = page.map((r) => this.view(r, resultsBase));
    return {
      data,
      has_more: hasMore,
      first_id: data[0]?.id ?? null,
      last_id: data[data.length - 1]?.id ?? null,
    };
  }

  cancel(id: string, resultsBase: string): MessageBatch {
    const record = this.mustGet(id);
    if (record.status === "in_progress") {
      record.status = "canceling";
      record.cancelMs = this.ctx.clock.nowMs();
      record.cancel.abort();
      bump(this.ctx, "anthropic_batches_cancel_requested");
    }
    return this.view(record, resultsBase);
  }

  delete(id: string): { id: string; type: "message_batch_deleted" } {
    const record = this.mustGet(id);
    if (record.status !== "ended") {
      throw invalid(
        `Message Batch ${id} cannot be deleted while it is still processing; cancel it first and wait for it to end.`,
      );
    }
    // kept for the introspection state, gone for the API
    record.deleted = true;
    if (record.resultsPath) fs.rmSync(record.resultsPath, { force: true });
    bump(this.ctx, "anthropic_batches_deleted");
    return { id, type: "message_batch_deleted" };
  }

  /** The results file of an ended, unarchived batch. */
  results(id: string): { path: string; bytes: number } {
    const record = this.mustGet(id);
    if (record.status !== "ended" || !record.resultsPath) {
      throw invalid(`Message Batch ${id} has not yet ended; its results are not available.`);
    }
    if (this.archived(record))
      throw missing(`Results for Message Batch ${id} are no longer available (archived).`);
    return { path: record.resultsPath, bytes: record.resultsBytes };
  }

  view(record: MessageBatchRecord, resultsBase: string): MessageBatch {
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    const ended = record.status === "ended";
    const archived = this.archived(record);
    return {
      id: record.id,
      type: "message_batch",
      processing_status: record.status,
      // outcome counts stay 0 until the whole batch has ended
      request_counts: ended
        ? { processing: 0, ...record.outcomes }
        : { processing: record.total, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      ended_at: iso(record.endedMs),
      created_at: iso(record.createdMs) as string,
      expires_at: iso(record.expiresMs) as string,
      cancel_initiated_at: iso(record.cancelMs),
      archived_at: archived ? iso(record.createdMs + RETENTION_MS) : null,
      results_url: ended && !archived ? `${resultsBase}/v1/messages/batches/${record.id}/results` : null,
    };
  }

  snapshot(): AnthropicState {
    const paidTwice = [...this.paid].filter(([, n]) => n > 1).map(([id]) => id);
    const all = [...this.batches.values()].sort((a, b) => a.seq - b.seq);
    return {
      queue: { processing: this.queued, limit: this.ctx.options.anthropicQueueLimit },
      batches: all.map((r) => {
        const v = this.view(r, "");
        return {
          id: r.id,
          processing_status: v.processing_status,
          request_counts: v.request_counts,
          created_at: v.created_at,
          deleted: r.deleted === true,
        };
      }),
      executions: Object.fromEntries(this.executions),
      paid: Object.fromEntries(this.paid),
      paid_twice: paidTwice,
      params_paid_twice: [...this.paidParams]
        .filter(([, ids]) => ids.length > 1)
        .map(([hash, ids]) => ({ params_sha256: hash, custom_ids: [...ids] })),
    };
  }

  /** Give a batch's queue share back (after `latencies.queueReleaseLag`). */
  release(record: MessageBatchRecord): void {
    const n = record.queued;
    record.queued = 0;
    const lag = this.ctx.options.latencies.queueReleaseLag;
    if (lag <= 0) {
      this.queued -= n;
      return;
    }
    const life = this.life.signal;
    void this.ctx.clock.sleep(lag, life).then(() => {
      if (!life.aborted) this.queued -= n;
    });
  }

  async reset(): Promise<void> {
    this.life.abort();
    for (const r of this.batches.values()) r.cancel.abort();
    await Promise.allSettled([...this.running]);
    for (const r of this.batches.values()) if (r.resultsPath) fs.rmSync(r.resultsPath, { force: true });
    this.life = unbounded();
    this.batches.clear();
    this.executions.clear();
    this.liveAttempts.clear();
    this.paid.clear();
    this.paidParams.clear();
    this.promptCache.clear();
    this.queued = 0;
  }

  private archived(record: MessageBatchRecord): boolean {
    return this.ctx.clock.nowMs() >= record.createdMs + RETENTION_MS;
  }

  private mustGet(id: string): MessageBatchRecord {
    const record = this.batches.get(id);
    if (!record || record.deleted) throw missing(`message_batch_id: no Message Batch found with id '${id}'`);
    return record;
  }

  /** Real seconds until the batch that ends first is expected to end (at the configured pace). */
  private retryAfterSeconds(): number {
    const { clock, options } = this.ctx;
    let soonest = Number.POSITIVE_INFINITY;
    for (const r of this.batches.values()) {
      if (r.status === "ended") continue;
      const endMs = Math.min(r.createdMs + (r.total / options.latencies.linesPerSecond) * 1000, r.expiresMs);
      soonest = Math.min(soonest, endMs - clock.nowMs());
    }
    if (!Number.isFinite(soonest)) return 1;
    return Math.min(3600, Math.max(1, Math.ceil(clock.toRealMs(soonest / 1000) / 1000)));
  }

  private start(record: MessageBatchRecord): void {
    const life = this.life.signal;
    const run = runMessageBatch(this, record, life).catch(() => {
      // an unexpected failure still ends the batch, its requests errored
      if (life.aborted) return;
      record.status = "ended";
      record.endedMs = this.ctx.clock.nowMs();
      this.release(record);
    });
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }
}

/** Many runners wait on the same signals at once; that is not a leak. */
function unbounded(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
