/**
 * One batch's life after `create`: validating (the input scanned and checked, its queue capacity
 * taken), in_progress (every line answered at the configured pace, or failed when the batch expires
 * or is cancelled), finalizing, and a terminal status that gives the queue capacity back.
 */
import { setMaxListeners } from "node:events";
import { bump, type EmulatorContext } from "../context.js";
import type { StoredFile } from "../files/store.js";
import { readLines } from "../lines.js";
import { respond } from "../responder/index.js";
import { TimeSlices } from "../slices.js";
import type { CreateBatchBody } from "./create.js";
import { matchLineRule, ruleNeedsAttempts } from "./line-rules.js";
import { demandOf, type QueueDemand } from "./queue.js";
import { publishFiles, ResultFile } from "./results.js";
import type { BatchError, BatchRecord } from "./types.js";
import { firstModel, type ScanOptions, type ScanResult, scanInput } from "./validate.js";

const EXPIRED_MESSAGE = "This request could not be executed before the completion window expired.";
const CANCELLED_MESSAGE = "This request was cancelled before it could be executed.";

/** What a batch's run needs from the engine that owns it (batches/engine.ts). */
export interface BatchHost {
  readonly ctx: EmulatorContext;
  /** attempts so far per custom_id, kept across batches, for line rules that count them */
  readonly attempts: Map<string, number>;
  /** the input file as the batch service sees it (absent during the file-visibility lag) */
  visibleFile(id: string): StoredFile | undefined;
  scanOptions(endpoint: string): Omit<ScanOptions, "signal">;
  /** admit (and with `reserve`, enqueue) a scanned batch in its model's queue */
  queueCheck(endpoint: string, scan: ScanResult, reserve: boolean): BatchError | null;
  /** give back the queue capacity a batch held */
  release(hold: QueueDemand): void;
}

export async function runBatch(
  host: BatchHost,
  record: BatchRecord,
  body: CreateBatchBody,
  life: AbortSignal,
): Promise<void> {
  const { clock, options } = host.ctx;
  const { batch } = record;
  const cancel = record.cancel.signal;
  await clock.sleep(options.latencies.validation, anySignal(cancel, life));
  if (life.aborted) return;
  if (cancel.aborted) return cancelBeforeRun(host, record, body.input_file_id, life);

  const file = host.visibleFile(body.input_file_id);
  if (!file) {
    return failBatch(host, record, [
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
    return failBatch(host, record, [
      {
        code: "file_too_large",
        line: null,
        param: null,
        message: `The batch input file is larger than the ${options.maxBatchBytes} maximum for the ${model} model. Please try again with a smaller batch.`,
      },
    ]);
  }
  const scan = await scanInput(path, {
    ...host.scanOptions(body.endpoint),
    signal: anySignal(cancel, life),
  });
  if (life.aborted) return;
  if (cancel.aborted) return cancelBeforeRun(host, record, body.input_file_id, life);
  if (scan.lines === 0) {
    return failBatch(host, record, [
      {
        code: "empty_file",
        line: null,
        param: null,
        message: "The input file is empty. Please ensure that the batch contains at least one request.",
      },
    ]);
  }
  if (scan.errors.length > 0) return failBatch(host, record, scan.errors);
  if (scan.lines > options.maxBatchLines) {
    return failBatch(host, record, [
      {
        code: "too_many_tasks",
        line: null,
        param: null,
        message: `The batch input file contains ${scan.lines} requests, which is more than the maximum of ${options.maxBatchLines} requests per batch.`,
      },
    ]);
  }
  if (body.endpoint === "/v1/embeddings" && scan.embeddingInputs > options.maxEmbeddingInputs) {
    return failBatch(host, record, [
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
  const refusal = host.queueCheck(body.endpoint, scan, true);
  if (refusal) {
    bump(host.ctx, refusal.code);
    return failBatch(host, record, [refusal]);
  }
  record.queueHold = demandOf(body.endpoint, scan);
  await execute(host, record, path, scan.lines, life);
}

async function execute(
  host: BatchHost,
  record: BatchRecord,
  path: string,
  total: number,
  life: AbortSignal,
): Promise<void> {
  const { clock, store } = host.ctx;
  const { batch } = record;
  const cancel = record.cancel.signal;
  if (batch.status === "validating") batch.status = "in_progress";
  batch.in_progress_at = clock.nowSeconds();
  batch.request_counts.total = total;

  const ok = new ResultFile(store.tmpPath(".out"));
  const bad = new ResultFile(store.tmpPath(".err"));
  try {
    const startMs = clock.nowMs();
    const expireAtMs = (batch.expires_at + host.ctx.options.latencies.expiryLag) * 1000;
    let stop: "expired" | "cancelled" | undefined;
    let done = 0;
    let unexecuted = 0;
    const slices = new TimeSlices();
    const checkStop = () => {
      if (stop) return;
      const options = host.ctx.options;
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
        const dueMs = startMs + ((done + 1) / host.ctx.options.latencies.linesPerSecond) * 1000;
        const nowMs = clock.nowMs();
        if (nowMs < dueMs) {
          const untilMs = Math.min(dueMs, expireAtMs) - nowMs;
          await clock.sleep(Math.max(0, untilMs) / 1000, anySignal(cancel, life));
          if (life.aborted) return;
          checkStop();
        } else if (slices.due()) {
          await slices.turn();
        }
      }
      if (stop) {
        appendUnexecuted(host, bad, request.custom_id, stop);
        unexecuted++;
        continue;
      }
      executeLine(host, record, request, ok, bad);
      done++;
    }
    if (stop === "cancelled") return await finishCancelled(host, record, ok, bad, life, unexecuted);
    if (stop === "expired") {
      batch.request_counts.failed += unexecuted;
      publishFiles(host.ctx, record, ok, bad);
      terminal(host, record, "expired");
      return;
    }
    if (cancel.aborted) return await finishCancelled(host, record, ok, bad, life);
    batch.status = "finalizing";
    batch.finalizing_at = clock.nowSeconds();
    // the files are written now but their ids appear only with `completed`
    const attach = publishFiles(host.ctx, record, ok, bad, false);
    await clock.sleep(host.ctx.options.latencies.finalizing, life);
    if (life.aborted) return;
    attach();
    terminal(host, record, "completed");
  } finally {
    ok.dispose();
    bad.dispose();
  }
}

function executeLine(
  host: BatchHost,
  record: BatchRecord,
  request: { custom_id: string; body: Record<string, unknown> },
  ok: ResultFile,
  bad: ResultFile,
): void {
  const { ids, clock, options } = host.ctx;
  const { batch } = record;
  const customId = request.custom_id;
  let attempt = 1;
  if (ruleNeedsAttempts(options.lineRules)) {
    attempt = (host.attempts.get(customId) ?? 0) + 1;
    host.attempts.set(customId, attempt);
  }
  const id = ids.batchRequest();
  const requestId = ids.request();
  const model = batch.model ?? "unknown";
  const failure =
    options.lineRules.length > 0
      ? matchLineRule(options.lineRules, customId, attempt, options.seed, model, requestId)
      : undefined;
  bump(host.ctx, "lines_executed");
  if (failure?.oddity) {
    // test-only broken output (LineRule.oddity): the provider counts the line as done
    batch.request_counts.completed++;
    if (failure.oddity === "malformed")
      ok.appendText(
        `{"id":"${id}","custom_id":${JSON.stringify(customId)},"response":{"status_code":200,"bo`,
      );
    if (failure.oddity === "long_line") {
      const prefix = `{"id":"${id}","custom_id":${JSON.stringify(customId)},"response":{"status_code":200,"body":"`;
      ok.appendText(prefix.padEnd(Math.max(prefix.length, failure.lineBytes ?? 1024 * 1024), "x"));
    }
    if (failure.oddity === "unknown_id") {
      const body = respond(batch.endpoint, request.body, { ids, now: clock.nowSeconds() }).body;
      const response = { status_code: 200, request_id: requestId, body };
      ok.append({ id, custom_id: `unknown-${customId}`, response, error: null });
    }
    return;
  }
  if (failure && !failure.stop) {
    bump(host.ctx, "lines_failed");
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
  const answer = respond(batch.endpoint, request.body, { ids, now: clock.nowSeconds(), stop: failure?.stop });
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

/** a request the batch never executed: an error-file line with no response (the caller counts it) */
function appendUnexecuted(
  host: BatchHost,
  bad: ResultFile,
  customId: string,
  stop: "expired" | "cancelled",
): void {
  bad.append({
    id: host.ctx.ids.batchRequest(),
    custom_id: customId,
    response: null,
    error: {
      code: stop === "expired" ? "batch_expired" : "batch_cancelled",
      message: stop === "expired" ? EXPIRED_MESSAGE : CANCELLED_MESSAGE,
    },
  });
}

/**
 * A batch cancelled while validating: none of its requests ran, and each goes to the error file
 * as `batch_cancelled` (response null), as the requests a cancel stops mid-run do. Without them a
 * client that reconciles the files against its input counts every request as lost (batchpipe's
 * "missing lines": 400 of 400). The requests are the input's lines that name a custom_id; a line
 * that does not parse names no request. No input file (never visible): no lines.
 */
async function cancelBeforeRun(
  host: BatchHost,
  record: BatchRecord,
  inputFileId: string,
  life: AbortSignal,
): Promise<void> {
  const file = host.visibleFile(inputFileId);
  if (!file) return finishCancelled(host, record, undefined, undefined, life);
  const { store } = host.ctx;
  const ok = new ResultFile(store.tmpPath(".out"));
  const bad = new ResultFile(store.tmpPath(".err"));
  try {
    const slices = new TimeSlices();
    let unexecuted = 0;
    for await (const { line } of readLines(file.path)) {
      if (life.aborted) return;
      const customId = customIdOf(line);
      if (customId === undefined) continue;
      record.batch.request_counts.total++;
      appendUnexecuted(host, bad, customId, "cancelled");
      unexecuted++;
      if (slices.due()) await slices.turn();
    }
    await finishCancelled(host, record, ok, bad, life, unexecuted);
  } finally {
    ok.dispose();
    bad.dispose();
  }
}

/** the custom_id an input line names (undefined: blank, not JSON, or none given) */
function customIdOf(line: string): string | undefined {
  if (line.trim() === "") return undefined;
  try {
    const id = (JSON.parse(line) as { custom_id?: unknown } | null)?.custom_id;
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined;
  }
}

async function finishCancelled(
  host: BatchHost,
  record: BatchRecord,
  ok: ResultFile | undefined,
  bad: ResultFile | undefined,
  life: AbortSignal,
  unexecuted = 0,
): Promise<void> {
  await host.ctx.clock.sleep(host.ctx.options.latencies.cancelDrain, life);
  if (life.aborted) return;
  // while cancelling, failed counts only requests that ran and failed (OpenAI's reference example:
  // cancelling, total 100, completed 23, failed 1); the never-run ones join it once cancelled
  record.batch.request_counts.failed += unexecuted;
  if (ok && bad) publishFiles(host.ctx, record, ok, bad);
  terminal(host, record, "cancelled");
}

/** End the batch as `failed` with these errors. */
export function failBatch(host: BatchHost, record: BatchRecord, errors: BatchError[]): void {
  record.batch.errors = { object: "list", data: errors };
  terminal(host, record, "failed");
}

function terminal(
  host: BatchHost,
  record: BatchRecord,
  status: "failed" | "completed" | "expired" | "cancelled",
): void {
  const now = host.ctx.clock.nowSeconds();
  const { batch } = record;
  batch.status = status;
  if (status === "failed") batch.failed_at = now;
  if (status === "completed") batch.completed_at = now;
  if (status === "expired") batch.expired_at = now;
  if (status === "cancelled") batch.cancelled_at = now;
  bump(host.ctx, `batches_${status}`);
  const hold = record.queueHold;
  record.queueHold = undefined;
  if (hold) host.release(hold);
}

function anySignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  const signal = AbortSignal.any([a, b]);
  setMaxListeners(0, signal);
  return signal;
}
