import { setMaxListeners } from "node:events";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { bump, type EmulatorContext, isKnownModel } from "../context.js";
import { ApiError, invalidRequest, notFound } from "../http/api-error.js";
import { readLines } from "../lines.js";
import { createRandom, hashUnit } from "../random.js";
import { respond } from "../responder/index.js";
import { type CreateBatchBody, checkCreateBody } from "./create.js";
import { matchLineRule, ruleNeedsAttempts } from "./line-rules.js";
import { EnqueuedQueue, type QueueDemand } from "./queue.js";
import { ResultFile } from "./results.js";
import type { BatchError, BatchObject, BatchRecord } from "./types.js";
import { firstModel, type ScanResult, scanInput } from "./validate.js";

const WINDOW_SECONDS = 24 * 3600;
const EXPIRED_MESSAGE = "This request could not be executed before the completion window expired.";
const CANCELLED_MESSAGE = "This request was cancelled before it could be executed.";

/** Owns every batch: the synchronous create checks, the lifecycle runner, cancel, list and the queue. */
export class BatchEngine {
  readonly queue = new EnqueuedQueue();
  private readonly batches = new Map<string, BatchRecord>();
  private readonly creations: number[] = [];
  private readonly attempts = new Map<string, number>();
  private life = unboundedController();
  private seq = 0;
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly ctx: EmulatorContext) {}

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
      const at = items.findIndex((r) => r.batch.id === after);
      if (at >= 0) items = items.slice(at + 1);
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
    const run = this.run(record, body, life).catch((error: unknown) => {
      if (life.aborted) return;
      // an unexpected failure still ends the batch, visibly
      this.fail(record, [{ code: "server_error", line: null, param: null, message: String(error) }]);
    });
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  private async run(record: BatchRecord, body: CreateBatchBody, life: AbortSignal): Promise<void> {
    const { clock, options } = this.ctx;
    const { batch } = record;
    const cancel = record.cancel.signal;
    await clock.sleep(options.latencies.validation, anySignal(cancel, life));
    if (life.aborted) return;
    if (cancel.aborted) return this.finishCancelled(record, undefined, undefined, life);

    const file = this.visibleFile(body.input_file_id);
    if (!file) {
      return this.fail(record, [
        {
          code: "invalid_request",
          line: null,
          param: "file_id",
          message: `Cannot find file ${body.input_file_id}, or organization org-emulator does not have access to it.`,
        },
      ]);
    }
    const path = file.path;
    if (file.bytes > options.maxBatchBytes) {
      const model = (await firstModel(path)) ?? "unknown";
      return this.fail(record, [
        {
          code: "file_too_large",
          line: null,
          param: null,
          message: `The batch input file is larger than the ${options.maxBatchBytes} maximum for the ${model} model. Please try again with a smaller batch.`,
        },
      ]);
    }
    const scan = await scanInput(path, {
      ...this.scanOptions(body.endpoint),
      signal: anySignal(cancel, life),
    });
    if (life.aborted) return;
    if (cancel.aborted) return this.finishCancelled(record, undefined, undefined, life);
    if (scan.lines === 0) {
      return this.fail(record, [
        {
          code: "empty_file",
          line: null,
          param: null,
          message: "The input file is empty. Please ensure that the batch contains at least one request.",
        },
      ]);
    }
    if (scan.errors.length > 0) return this.fail(record, scan.errors);
    if (scan.lines > options.maxBatchLines) {
      return this.fail(record, [
        {
          code: "too_many_tasks",
          line: null,
          param: null,
          message: `The batch input file contains ${scan.lines} requests, which is more than the maximum of ${options.maxBatchLines} requests per batch.`,
        },
      ]);
    }
    if (body.endpoint === "/v1/embeddings" && scan.embeddingInputs > options.maxEmbeddingInputs) {
      return this.fail(record, [
        {
          code: "too_many_inputs",
          line: null,
          param: null,
          message: `The batch input file contains ${scan.embeddingInputs} embedding inputs, which is more than the maximum of ${options.maxEmbeddingInputs} embedding inputs per batch.`,
        },
      ]);
    }
    batch.model = scan.model;
    record.estimatedTokens = scan.tokens;
    const refusal = this.queueCheck(body.endpoint, scan, true);
    if (refusal) {
      bump(this.ctx, refusal.code);
      return this.fail(record, [refusal]);
    }
    record.queueHold = demandOf(body.endpoint, scan);
    await this.execute(record, path, scan.lines, life);
  }

  private async execute(record: BatchRecord, path: string, total: number, life: AbortSignal): Promise<void> {
    const { clock, store, ids } = this.ctx;
    const { batch } = record;
    const cancel = record.cancel.signal;
    if (batch.status === "validating") batch.status = "in_progress";
    batch.in_progress_at = clock.nowSeconds();
    batch.request_counts.total = total;

    const ok = new ResultFile(store.tmpPath(".out"));
    const bad = new ResultFile(store.tmpPath(".err"));
    try {
      const startMs = clock.nowMs();
      const expireAtMs = (batch.expires_at + this.ctx.options.latencies.expiryLag) * 1000;
      let stop: "expired" | "cancelled" | undefined;
      let done = 0;
      const checkStop = () => {
        if (stop) return;
        const options = this.ctx.options;
        if (cancel.aborted) stop = "cancelled";
        else if (options.expireAfterLines !== undefined && done >= options.expireAfterLines) stop = "expired";
        else if (clock.nowMs() >= expireAtMs) stop = "expired";
      };
      for await (const { line } of readLines(path)) {
        if (life.aborted) return;
        if (line.trim() === "") continue;
        const request = JSON.parse(line) as { custom_id: string; body: Record<string, unknown> };
        checkStop();
        if (!stop) {
          // pace to linesPerSecond of virtual time; sleep only when ahead of schedule
          const dueMs = startMs + ((done + 1) / this.ctx.options.latencies.linesPerSecond) * 1000;
          const nowMs = clock.nowMs();
          if (nowMs < dueMs) {
            const untilMs = Math.min(dueMs, expireAtMs) - nowMs;
            await clock.sleep(Math.max(0, untilMs) / 1000, anySignal(cancel, life));
            if (life.aborted) return;
            checkStop();
          } else if (done % 500 === 499) {
            await yieldToLoop();
          }
        }
        if (stop) {
          bad.append({
            id: ids.batchRequest(),
            custom_id: request.custom_id,
            response: null,
            error: {
              code: stop === "expired" ? "batch_expired" : "batch_cancelled",
              message: stop === "expired" ? EXPIRED_MESSAGE : CANCELLED_MESSAGE,
            },
          });
          batch.request_counts.failed++;
          continue;
        }
        this.executeLine(record, request, ok, bad);
        done++;
      }
      if (stop === "cancelled") return await this.finishCancelled(record, ok, bad, life);
      if (stop === "expired") {
        this.publishFiles(record, ok, bad);
        this.terminal(record, "expired");
        return;
      }
      if (cancel.aborted) return await this.finishCancelled(record, ok, bad, life);
      batch.status = "finalizing";
      batch.finalizing_at = clock.nowSeconds();
      // the files are written now but their ids appear only with `completed`
      const attach = this.publishFiles(record, ok, bad, false);
      await clock.sleep(this.ctx.options.latencies.finalizing, life);
      if (life.aborted) return;
      attach();
      this.terminal(record, "completed");
    } finally {
      ok.dispose();
      bad.dispose();
    }
  }

  private executeLine(
    record: BatchRecord,
    request: { custom_id: string; body: Record<string, unknown> },
    ok: ResultFile,
    bad: ResultFile,
  ): void {
    const { ids, clock, options } = this.ctx;
    const { batch } = record;
    const customId = request.custom_id;
    let attempt = 1;
    if (ruleNeedsAttempts(options.lineRules)) {
      attempt = (this.attempts.get(customId) ?? 0) + 1;
      this.attempts.set(customId, attempt);
    }
    const id = ids.batchRequest();
    const requestId = ids.request();
    const model = batch.model ?? "unknown";
    const failure =
      options.lineRules.length > 0
        ? matchLineRule(options.lineRules, customId, attempt, options.seed, model, requestId)
        : undefined;
    bump(this.ctx, "lines_executed");
    if (failure?.oddity) {
      // test-only broken output (LineRule.oddity): the provider counts the line as done
      batch.request_counts.completed++;
      if (failure.oddity === "malformed")
        ok.appendText(
          `{"id":"${id}","custom_id":${JSON.stringify(customId)},"response":{"status_code":200,"bo`,
        );
      if (failure.oddity === "unknown_id") {
        const body = respond(batch.endpoint, request.body, { ids, now: clock.nowSeconds() }).body;
        const response = { status_code: 200, request_id: requestId, body };
        ok.append({ id, custom_id: `unknown-${customId}`, response, error: null });
      }
      return;
    }
    if (failure) {
      bump(this.ctx, "lines_failed");
      batch.request_counts.failed++;
      if (failure.status === null) {
        bad.append({
          id,
          custom_id: customId,
          response: null,
          error: { code: failure.error.code, message: failure.error.message },
        });
      } else {
        bad.append({
          id,
          custom_id: customId,
          response: { status_code: failure.status, request_id: requestId, body: { error: failure.error } },
          error: null,
        });
      }
      return;
    }
    const answer = respond(batch.endpoint, request.body, { ids, now: clock.nowSeconds() });
    ok.append({
      id,
      custom_id: customId,
      response: { status_code: 200, request_id: requestId, body: answer.body },
      error: null,
    });
    batch.request_counts.completed++;
    const usage = batch.usage;
    usage.input_tokens += answer.usage.input;
    usage.output_tokens += answer.usage.output;
    usage.total_tokens += answer.usage.input + answer.usage.output;
  }

  private async finishCancelled(
    record: BatchRecord,
    ok: ResultFile | undefined,
    bad: ResultFile | undefined,
    life: AbortSignal,
  ): Promise<void> {
    await this.ctx.clock.sleep(this.ctx.options.latencies.cancelDrain, life);
    if (life.aborted) return;
    if (ok && bad) this.publishFiles(record, ok, bad);
    this.terminal(record, "cancelled");
  }

  /** Write the output and error files (shuffled unless disabled); their ids go on the batch now or at `attach()`. */
  private publishFiles(record: BatchRecord, ok: ResultFile, bad: ResultFile, attachNow = true): () => void {
    const { store, options } = this.ctx;
    const { batch } = record;
    const ids: { output?: string; error?: string } = {};
    const shuffle = (salt: string) =>
      options.shuffleOutput
        ? createRandom(Math.floor(hashUnit(options.seed, batch.id, salt) * 2 ** 32))
        : undefined;
    for (const [result, kind] of [
      [ok, "output"],
      [bad, "error"],
    ] as const) {
      const tmp = store.tmpPath(".jsonl");
      const written = result.finish(tmp, shuffle(kind));
      if (!written) continue;
      const file = store.adopt(tmp, {
        filename: `${batch.id}_${kind}.jsonl`,
        purpose: "batch_output",
        bytes: written.bytes,
        sha256: written.sha256,
        expiresAfterSeconds: record.outputExpiresAfter,
      });
      ids[kind] = file.id;
    }
    const attach = () => {
      batch.output_file_id = ids.output ?? null;
      batch.error_file_id = ids.error ?? null;
    };
    if (attachNow) attach();
    return attach;
  }

  private fail(record: BatchRecord, errors: BatchError[]): void {
    record.batch.errors = { object: "list", data: errors };
    this.terminal(record, "failed");
  }

  private terminal(record: BatchRecord, status: "failed" | "completed" | "expired" | "cancelled"): void {
    const now = this.ctx.clock.nowSeconds();
    const { batch } = record;
    batch.status = status;
    if (status === "failed") batch.failed_at = now;
    if (status === "completed") batch.completed_at = now;
    if (status === "expired") batch.expired_at = now;
    if (status === "cancelled") batch.cancelled_at = now;
    bump(this.ctx, `batches_${status}`);
    const hold = record.queueHold;
    record.queueHold = undefined;
    if (hold) this.release(hold);
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

function demandOf(endpoint: string, scan: ScanResult): QueueDemand {
  return {
    model: scan.model ?? "unknown",
    tokens: scan.tokens,
    requests: endpoint === "/v1/embeddings" ? scan.lines : 0,
  };
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

function anySignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  const signal = AbortSignal.any([a, b]);
  setMaxListeners(0, signal);
  return signal;
}

/** Many runners wait on the same signals at once; that is not a leak. */
function unboundedController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
