/**
 * What the pages show, as JSON: the runs of every pipeline, one run (its batches, queue use and cost
 * per model, progress over time), its failures by code, and one record with the request it sent.
 */
import fs from "node:fs";
import path from "node:path";
import type { BatchSnapshot, RunRow } from "@batchpipe/core";
import {
  estimateCost,
  failureHint,
  isFromCache,
  livePricesFor,
  pipelineStatus,
  pricesFor,
  shardCost,
  shownRunStatus,
} from "@batchpipe/core";
import { silentLogger } from "@batchpipe/core/plugin";
import { recordFiles, type ViewPipeline } from "./catalog.js";
import { readChunks } from "./line-scan.js";
import { failureExamples, readRecord } from "./records.js";
import type { ShardFact } from "./state-reader.js";

/**
 * Each pipeline's runs, newest first, a page of them (`limit` from the `offset`th on: a folder that
 * watch mode fills with a run per file holds thousands), with how many it has in all.
 */
export function runsView(pipelines: ViewPipeline[], page: { offset: number; limit: number }) {
  return pipelines.map((view) => {
    try {
      const holder = view.state.holder();
      const runningPid = holder?.pid ?? null;
      return {
        key: view.key,
        name: view.name,
        file: view.file,
        stateDir: view.state.dir,
        runningPid,
        /** `run` or `watch`: how that process runs the pipeline */
        runningCommand: holder?.command ?? null,
        // a holder still starting has no pid yet, and runs all the same
        runs: view.state.runs(page).map((run) => runSummary(run, holder !== null)),
        runCount: view.state.runCount(),
        offset: page.offset,
      };
    } catch (error) {
      return {
        key: view.key,
        name: view.name,
        file: view.file,
        stateDir: view.state.dir,
        error: message(error),
      };
    }
  });
}

/** batches a run's page lists at a time, and the points its progress chart draws at most */
export const BATCHES_PAGE = 100;
const CHART_POINTS = 400;

/**
 * A run's page: its batches `BATCHES_PAGE` at a time from `batchOffset` (with how many there are in
 * each state), so what a poll sends and draws stays bounded at thousands of batches.
 */
export function runView(view: ViewPipeline, run: RunRow, batchOffset = 0) {
  const shards = view.state.shardFacts(run.id);
  const page = view.state.shardPage(run.id, batchOffset, BATCHES_PAGE);
  const delivered = new Map(view.state.deliveries(run.id).map((d) => [d.key, d.at]));
  const now = Date.now();
  const summary = runSummary(run, view.state.running());
  return {
    pipeline: { key: view.key, name: view.name, file: view.file },
    run: summary,
    totals: run.totals,
    counters: run.counters,
    running: summary.status === "running" || summary.status === "reading",
    now,
    batchCount: shards.length,
    batchOffset,
    batchPageSize: BATCHES_PAGE,
    batchStates: countBy(shards, (s) => s.status),
    batches: page.map((s) => ({
      shard: s.name,
      attempt: s.attempt,
      model: s.model,
      status: s.status,
      batchId: s.batchId,
      batchStatus: s.batchStatus,
      requests: s.requests,
      counts: s.batch?.counts ?? null,
      createdAt: s.createdAt ?? s.batch?.createdAt ?? null,
      // when its results were delivered (the snapshot does not keep the provider's end time)
      endedAt: s.status === "collected" ? (delivered.get(`${run.id}:${s.name}`) ?? null) : null,
      expiresAt: s.batch?.expiresAt ?? null,
    })),
    queue: queueUse(view, shards),
    costByModel: costByModel(view, run, shards),
    progress: progress(run, shards, delivered),
    stopped: summary.status === "stopped" ? stoppedView(view, run) : null,
    records: recordFiles(view, run).note,
    cutNote: cutNote(view, run),
  };
}

export function failuresView(view: ViewPipeline, run: RunRow) {
  const files = recordFiles(view, run);
  const { examples, complete } = failureExamples(files.files, 3, 400);
  const codes = Object.entries(run.counters.failedByCode)
    .sort((a, b) => b[1] - a[1])
    .map(([code, count]) => ({ code, count, hint: failureHint(code), examples: examples[code] ?? [] }));
  return { pipeline: { key: view.key, name: view.name }, codes, complete, note: files.note };
}

export async function recordView(view: ViewPipeline, run: RunRow, ref: string) {
  const row = readRecord(recordFiles(view, run).files, ref);
  if (!row) return undefined;
  const usage = row.usage as {
    input_tokens?: number;
    output_tokens?: number;
    cached_tokens?: number;
    cache_creation_tokens?: number;
    cache_creation_1h_tokens?: number;
  } | null;
  const model =
    typeof row.model === "string" ? row.model : (view.state.shardPage(run.id, 0, 1)[0]?.model ?? "");
  // at the pipeline's prices, as the run counted it (live ones for a request answered live)
  const pricing = view.pipeline.spec.pricing;
  const cost =
    usage && typeof usage.input_tokens === "number"
      ? estimateCost({
          model,
          inputTokens: usage.input_tokens,
          outputTokens: usage.output_tokens ?? 0,
          cachedTokens: usage.cached_tokens,
          cacheWriteTokens: usage.cache_creation_tokens,
          cacheWrite1hTokens: usage.cache_creation_1h_tokens,
          prices: row.batch_id === "live" ? livePricesFor(pricing) : pricesFor(pricing),
        })
      : null;
  return {
    pipeline: { key: view.key, name: view.name },
    row,
    cost,
    cut: cutReader(view, run)(row),
    request: await requestOf(view, run, row),
  };
}

/**
 * Why a row's answer was cut short (max_tokens, content_filter), or null: the pipeline's provider
 * reads it from the row's response, as the run did (a row without its response cannot tell).
 */
export function cutReader(view: ViewPipeline, run: RunRow): (row: Record<string, unknown>) => string | null {
  const shards = view.state.shardFacts(run.id);
  const endpoints = new Map(shards.map((s) => [s.batchId, s.endpoint]));
  const { plugin } = view.pipeline.provider;
  return (row) => {
    const response = row.response;
    if (row.status !== "success" || !response || typeof response !== "object") return null;
    // the endpoint of the row's batch (a row answered from the cache: the run's first)
    const endpoint = endpoints.get(row.batch_id as string) ?? shards[0]?.endpoint ?? "";
    const output = plugin.output(response as Record<string, unknown>, { endpoint, json: false });
    return output.ok ? (output.cut ?? null) : null;
  };
}

// --- internal ---

/** `running`: whether a process holds the pipeline's lock (an unfinished run without one is `stopped`) */
function runSummary(run: RunRow, running: boolean) {
  const c = run.counters;
  return {
    id: run.id,
    status: shownRunStatus(run.status, running),
    cancelRequested: run.cancelRequested,
    createdAt: run.createdAt,
    finishedAt: run.finishedAt,
    read: run.totals?.read ?? null,
    requests: run.totals?.requests ?? null,
    identical: run.totals?.identical ?? null,
    /** records answered from the result cache (paid for in an earlier run) */
    cached: run.totals?.cachedRecords ?? null,
    succeeded: c.succeeded,
    /** successes whose answer the model cut short, by reason (max_tokens, content_filter) */
    cutByReason: c.cutByReason,
    failed: c.failed,
    failedByCode: c.failedByCode,
    estimatedCost: run.totals?.estimatedCost ?? null,
    cost: c.cost,
    /** requests paid for at a price not known: not in `cost` */
    unpriced: c.unpriced,
    batches: c.batches,
  };
}

/**
 * The provider's queue as the engine's scheduler counts it (runScheduler in core's loop-context.ts):
 * OpenAI's counts estimated input tokens per model against `batch.max_enqueued_tokens`; Anthropic's
 * counts requests across all models against the provider's `max_enqueued_requests`. One row per
 * queue (per model, or one for the account): the open batches, what they hold in the queue's unit,
 * and the budget (the one set, or the one learnt from the provider's refusals, or none yet).
 */
function queueUse(view: ViewPipeline, shards: ShardFact[]) {
  const { plugin, options } = view.pipeline.provider;
  const limits = plugin.limits(options);
  const { counts, per } = limits.queue;
  const configured =
    counts === "tokens" ? view.pipeline.spec.batch.max_enqueued_tokens : (limits.maxEnqueued ?? null);
  const learned = view.state.learnedBudgets();
  const byQueue = new Map<string, { model: string; enqueued: number; batches: number }>();
  for (const s of shards) {
    // the scheduler's queue key: the model, or "*" for the account's one queue
    const key = per === "model" ? s.model : "*";
    const entry = byQueue.get(key) ?? { model: per === "model" ? s.model : "", enqueued: 0, batches: 0 };
    if (s.status === "open" || s.status === "submitting") {
      entry.enqueued += counts === "tokens" ? s.tokens : s.requests;
      entry.batches++;
    }
    byQueue.set(key, entry);
  }
  const rows = [...byQueue].map(([key, use]) => {
    const learnt = learned[key];
    const limit = learnt !== undefined && (configured === null || learnt < configured) ? learnt : configured;
    return {
      model: use.model,
      batches: use.batches,
      enqueued: use.enqueued,
      limit,
      /** where the limit comes from: the spec or provider options, a refusal, or none known */
      limitFrom: limit === null ? null : limit === configured ? "set" : "learnt",
    };
  });
  /** counts: estimated input tokens (OpenAI) or requests (Anthropic); per: model, or the account */
  return { counts, per, rows };
}

/**
 * Estimated cost per model from the shards' token estimates; the actual cost is kept per run, not
 * per model, so it is shown beside the one model when there is only one.
 */
function costByModel(view: ViewPipeline, run: RunRow, shards: ShardFact[]) {
  const prices = pricesFor(view.pipeline.spec.pricing);
  const byModel = new Map<string, number | null>();
  for (const s of shards.filter((s) => s.attempt === 1)) {
    // a shard the result cache answered was paid in an earlier run
    const cost = isFromCache({ status: s.batchStatus } as BatchSnapshot)
      ? 0
      : shardCost(s, run.totals, prices);
    const sum = byModel.has(s.model) ? byModel.get(s.model)! : 0;
    byModel.set(s.model, sum === null || cost === null ? null : sum + cost);
  }
  const single = byModel.size === 1;
  return [...byModel].map(([model, estimated]) => ({
    model,
    estimated,
    actual: single && run.counters.unpriced === 0 ? run.counters.cost : null,
  }));
}

/**
 * requests collected over time, from the shards' committed deliveries, and the records done now. A
 * request counts once, when its last attempt is collected: a shard's requests that a next attempt's
 * shard retries count at that shard's delivery, not at this one's
 */
function progress(run: RunRow, shards: ShardFact[], delivered: Map<string, number>) {
  const points: [number, number][] = [[run.createdAt, 0]];
  const retried = new Map<string, number>();
  for (const s of shards) {
    if (s.attempt > 1)
      retried.set(
        `${s.root}:${s.attempt - 1}`,
        (retried.get(`${s.root}:${s.attempt - 1}`) ?? 0) + s.requests,
      );
  }
  const times = shards
    .map((s) => ({
      at: delivered.get(`${run.id}:${s.name}`),
      requests: s.requests - (retried.get(`${s.root}:${s.attempt}`) ?? 0),
    }))
    .filter((d): d is { at: number; requests: number } => d.at !== undefined)
    .sort((a, b) => a.at - b.at);
  let done = 0;
  // at most CHART_POINTS points (the chart is 720 wide): every step-th delivery, and the last
  const step = Math.ceil(times.length / CHART_POINTS);
  times.forEach((d, i) => {
    done += d.requests;
    if ((i + 1) % step === 0 || i === times.length - 1) points.push([d.at, done]);
  });
  return {
    points,
    total: run.totals?.requests ?? null,
    done: run.counters.succeeded + run.counters.failed,
    read: run.totals?.read ?? null,
  };
}

/**
 * The request as sent: its line in the shard file while the run keeps its shard files; after a
 * run cleans them up, the request rendered again from the record's input by the spec's transform
 * (`gone` when the sink keeps no input); null for a record that was never sent.
 */
async function requestOf(view: ViewPipeline, run: RunRow, row: Record<string, unknown>) {
  // a record that failed before it was sent (its template, its source line, a duplicate id) made none
  if (row.attempts === 0) return null;
  const shards = typeof row.batch_id === "string" ? view.state.shardsOfBatch(run.id, row.batch_id) : [];
  const needle = `"custom_id":${JSON.stringify(row.id)}`;
  for (const shard of shards) {
    const file = path.join(view.state.dir, shard.file);
    if (!fs.existsSync(file)) continue;
    for (const chunk of readChunks(file, 0, fs.statSync(file).size)) {
      const hit = chunk.bytes.indexOf(needle);
      if (hit === -1) continue;
      const start = chunk.bytes.lastIndexOf(10, hit) + 1;
      const line = chunk.bytes.toString("utf8", start, chunk.bytes.indexOf(10, hit));
      return { from: "shard", shard: shard.name, line: JSON.parse(line) };
    }
  }
  // sent, but its line is gone with the shard files and the sink kept no input to render it from
  if (!row.input || typeof row.input !== "object") return { from: "gone" };
  try {
    const { plugin, options } = view.pipeline.transform;
    const handle = await plugin.create({
      options,
      resolvePath: (p: string) => path.resolve(view.pipeline.dir, p),
      logger: silentLogger,
      signal: new AbortController().signal,
    });
    const record = { data: row.input as Record<string, unknown>, position: row.source ?? {}, cursor: null };
    return { from: "transform", line: handle.toRequest(record as never) };
  } catch (error) {
    return { from: "transform", error: message(error) };
  }
}

/**
 * Why the run's cut rows are not marked: its jsonl sink keeps no response (the provider reads the
 * reason from it); null when they are, or when none was cut.
 */
function cutNote(view: ViewPipeline, run: RunRow): string | null {
  const cut = Object.values(run.counters.cutByReason).reduce((sum, n) => sum + n, 0);
  if (cut === 0 || !view.results || view.results.keepsResponse) return null;
  return `${cut} of the run's answers were cut short, but ${path.basename(view.results.path)} keeps no response to tell which: add response to the sink's fields (or fields: all) to see them marked.`;
}

/**
 * Why a stopped run stopped (when its process could say: not after a kill -9) and the command that
 * goes on with it, as `batchpipe status` says
 */
function stoppedView(view: ViewPipeline, run: RunRow) {
  const status = pipelineStatus(view.pipeline, { stateDir: view.state.dir });
  const reason = status.run?.id === run.id ? status.run.stopped : null;
  // a watched pipeline resumes with `batchpipe watch` (`run` refuses it)
  const command = view.state.watchRuns().has(run.id) ? "watch" : "run";
  return { reason, resume: `batchpipe ${command} ${view.file ?? "<spec>"}` };
}

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
