import { setMaxListeners } from "node:events";
import { bump, type EmulatorContext, isKnownModel } from "../context.js";
import { ApiError, invalidRequest, notFound } from "../http/api-error.js";
import { type CreateBatchBody, checkCreateBody } from "./create.js";
import { type BatchHost, failBatch, runBatch } from "./lifecycle.js";
import { demandOf, EnqueuedQueue, type QueueDemand } from "./queue.js";
import type { BatchError, BatchObject, BatchRecord } from "./types.js";
import { type ScanResult, scanInput } from "./validate.js";

const WINDOW_SECONDS = 24 * 3600;

/**
 * Owns every batch: the synchronous create checks, retrieve, list, cancel and the queue; each
 * batch then runs on its own (lifecycle.ts).
 */
export class BatchEngine {
  readonly queue = new EnqueuedQueue();
  private readonly batches = new Map<string, BatchRecord>();
  private readonly creations: number[] = [];
  /** executions so far per custom_id (batch lines and live requests), for line rules that count them */
  readonly attempts = new Map<string, number>();
  private life = unboundedController();
  private seq = 0;
  private readonly running = new Set<Promise<void>>();

  /** what each batch's run (lifecycle.ts) uses of this engine */
  private readonly host: BatchHost;

  constructor(private readonly ctx: EmulatorContext) {
    this.host = {
      ctx,
      attempts: this.attempts,
      visibleFile: (id) => this.visibleFile(id),
      scanOptions: (endpoint) => this.scanOptions(endpoint),
      queueCheck: (endpoint, scan, reserve) => this.queueCheck(endpoint, scan, reserve),
      release: (hold) => this.release(hold),
    };
  }

  async create(raw: unknown): Promise<BatchObject> {
    const { options, clock, store } = this.ctx;
    const body = checkCreateBody(raw, options);
    const file = this.visibleFile(body.input_file_id);
    if (!file && options.syncFileCheck) {
      throw invalidRequest(
        `Cannot find file ${body.input_file_id}, or organization org-emulator does not have access to it.`,
        "file_id",
      );
    }
    if (file && file.purpose !== "batch") {
      throw invalidRequest(
        `The input file ${file.id} has purpose '${file.purpose}'; a batch's input file must be uploaded with purpose 'batch'.`,
        "input_file_id",
        "invalid_value",
      );
    }
    this.checkCreationRate();
    if (options.failFastTokenLimit && file) {
      const scan = await scanInput(file.path, this.scanOptions(body.endpoint));
      const refusal = scan.model ? this.queueCheck(body.endpoint, scan) : null;
      if (refusal) {
        bump(this.ctx, refusal.code);
        throw new ApiError(400, refusal.message, { type: "invalid_request_error", code: refusal.code });
      }
    }
    this.creations.push(clock.nowMs());
    const now = clock.nowSeconds();
    const record: BatchRecord = {
      batch: {
        id: this.ctx.ids.batch(),
        object: "batch",
        endpoint: body.endpoint,
        model: null,
        errors: null,
        input_file_id: body.input_file_id,
        completion_window: body.completion_window,
        status: "validating",
        output_file_id: null,
        error_file_id: null,
        created_at: now,
        in_progress_at: null,
        expires_at: now + WINDOW_SECONDS,
        finalizing_at: null,
        completed_at: null,
        failed_at: null,
        expired_at: null,
        cancelling_at: null,
        cancelled_at: null,
        request_counts: { total: 0, completed: 0, failed: 0 },
        metadata: body.metadata,
        usage: emptyUsage(),
      },
      seq: this.seq++,
      inputSha256: store.get(body.input_file_id)?.sha256 ?? null,
      estimatedTokens: 0,
      outputExpiresAfter: body.outputExpiresAfter,
      cancel: unboundedController(),
    };
    this.batches.set(record.batch.id, record);
    bump(this.ctx, "batches_created");
    this.start(record, body);
    return this.view(record);
  }

  retrieve(id: string): BatchObject {
    return this.view(this.mustGet(id));
  }

  list(after: string | undefined, limit: number): { data: BatchObject[]; has_more: boolean } {
    let items = [...this.batches.values()].sort((a, b) => b.seq - a.seq);
    if (after) {
      // an unknown cursor ends the list: restarting from the top made an SDK's `for await` repeat pages
      const at = items.findIndex((r) => r.batch.id === after);
      items = at >= 0 ? items.slice(at + 1) : [];
    }
    return { data: items.slice(0, limit).map((r) => this.view(r)), has_more: items.length > limit };
  }

  cancel(id: string): BatchObject {
    const record = this.mustGet(id);
    const { batch } = record;
    if (batch.status === "cancelled" || batch.status === "cancelling") return this.view(record);
    if (batch.status !== "validating" && batch.status !== "in_progress") {
      throw new ApiError(409, `Cannot cancel a batch with status '${batch.status}'.`, {
        type: "invalid_request_error",
      });
    }
    batch.status = "cancelling";
    batch.cancelling_at = this.ctx.clock.nowSeconds();
    record.cancel.abort();
    bump(this.ctx, "batches_cancel_requested");
    return this.view(record);
  }

  records(): BatchRecord[] {
    return [...this.batches.values()].sort((a, b) => a.seq - b.seq);
  }

  /** The public object, honouring the empty-string-ids toggle. */
  view(record: BatchRecord): BatchObject {
    const b = record.batch;
    const absent = this.ctx.options.emptyStringIds ? "" : null;
    return {
      ...b,
      errors: b.errors ? { object: "list", data: b.errors.data.map((e) => ({ ...e })) } : null,
      output_file_id: b.output_file_id ?? (absent as string | null),
      ...(this.ctx.options.omitExpiresAt ? { expires_at: null as unknown as number } : {}),
      error_file_id: b.error_file_id ?? (absent as string | null),
      request_counts: { ...b.request_counts },
      metadata: b.metadata ? { ...b.metadata } : null,
      usage: structuredClone(b.usage),
    };
  }

  /** Stop every runner and forget all batches (files are the store's business). */
  async reset(): Promise<void> {
    this.life.abort();
    for (const r of this.batches.values()) r.cancel.abort();
    await Promise.allSettled([...this.running]);
    this.life = unboundedController();
    this.batches.clear();
    this.creations.length = 0;
    this.attempts.clear();
    this.queue.clear();
  }

  /** The input file as the batch service sees it: missing until `latencies.fileVisibility` has passed. */
  private visibleFile(id: string) {
    const file = this.ctx.store.get(id);
    const lagMs = this.ctx.options.latencies.fileVisibility * 1000;
    if (file && lagMs > 0 && this.ctx.clock.nowMs() - file.createdMs < lagMs) return undefined;
    return file;
  }

  private mustGet(id: string): BatchRecord {
    const record = this.batches.get(id);
    if (!record) throw notFound(`No batch found with id '${id}'.`);
    return record;
  }

  private checkCreationRate(): void {
    const { clock, options } = this.ctx;
    const horizon = clock.nowMs() - 3600_000;
    while (this.creations.length > 0 && this.creations[0]! <= horizon) this.creations.shift();
    if (this.creations.length >= options.creationRateLimitPerHour) {
      const waitVirtualS = (this.creations[0]! - horizon) / 1000;
      const retryAfter = Math.max(1, Math.ceil(clock.toRealMs(waitVirtualS) / 1000));
      bump(this.ctx, "creation_rate_limited");
      throw new ApiError(
        429,
        `You have exceeded the batch creation rate limit of ${options.creationRateLimitPerHour} batches per hour. Please try again later.`,
        {
          type: "rate_limit_error",
          code: "rate_limit_exceeded",
          headers: { "retry-after": String(retryAfter) },
        },
      );
    }
  }

  private scanOptions(endpoint: string) {
    const models = this.ctx.options.models;
    return { endpoint, isKnownModel: (m: string) => isKnownModel(models, m) };
  }

  /** Admit (and with `reserve`, enqueue) a scanned batch in its model's queue. */
  private queueCheck(endpoint: string, scan: ScanResult, reserve = false): BatchError | null {
    const { options } = this.ctx;
    const demand = demandOf(endpoint, scan);
    const limits = {
      tokenLimit: options.queueLimits[demand.model],
      requestLimit: endpoint === "/v1/embeddings" ? options.maxEnqueuedEmbeddingRequests : undefined,
    };
    return this.queue.admit(demand, limits, reserve);
  }

  private start(record: BatchRecord, body: CreateBatchBody): void {
    const life = this.life.signal;
    const run = runBatch(this.host, record, body, life).catch((error: unknown) => {
      if (life.aborted) return;
      // an unexpected failure still ends the batch, visibly
      failBatch(this.host, record, [
        { code: "server_error", line: null, param: null, message: String(error) },
      ]);
    });
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  private release(hold: QueueDemand): void {
    const lag = this.ctx.options.latencies.queueReleaseLag;
    if (lag <= 0) {
      this.queue.release(hold);
      return;
    }
    const life = this.life.signal;
    void this.ctx.clock.sleep(lag, life).then(() => {
      if (!life.aborted) this.queue.release(hold);
    });
  }
}

function emptyUsage() {
  return {
    input_tokens: 0,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 0,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 0,
  };
}

/** Many runners wait on the same signals at once; that is not a leak. */
function unboundedController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
