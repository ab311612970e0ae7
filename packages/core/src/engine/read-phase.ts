/**
 * The read phase: source → transform → shard files on disk, streaming, in constant memory.
 *
 * The whole source is sharded before the first upload. That is what lets batchpipe promise that a
 * duplicate custom_id costs nothing (the run stops before any spend), compute the dataset fingerprint
 * for allow_same_dataset before paying, and resume a crashed read by simply reading again (nothing
 * was submitted yet). Reading and sharding run at local-disk speed (~100k records/s), negligible
 * next to a batch's hours.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import { BatchpipeError, ErrorCodes, isBatchpipeError } from "../errors.js";
import { holdEncodings } from "../estimate/encoding.js";
import type { EstimateMode } from "../estimate/estimate-tokens.js";
import { estimateOutputTokens, estimateRequestTokens } from "../estimate/index.js";
import { estimateCost } from "../estimate/pricing.js";
import {
  type FailureRow,
  isInvalidRecord,
  type Logger,
  type RecordPosition,
  type RequestLine,
  type SourceItem,
  type SourceRecord,
} from "../plugin.js";
import type { FanoutRow, RunTotals, ShardRow } from "../state/index.js";
import { wantsJson } from "./classify.js";
import { IdSet, RequestIndex } from "./id-index.js";
import { ShardWriter, SyncWriter, shardName } from "./shard-writer.js";
import type { EnginePipeline } from "./types.js";

export interface ReadPhaseOptions {
  pipeline: EnginePipeline;
  stateDir: string;
  runId: string;
  signal: AbortSignal;
  logger: Logger;
  estimate?: EstimateMode;
  onProgress?(records: number): void;
  /** identical requests found; called in chunks */
  onFanout?(root: string, rows: FanoutRow[]): void;
}

export interface ReadPhaseResult {
  fingerprint: string;
  totals: RunTotals;
  shards: ShardRow[];
  /** failure rows of records that never became requests (JSONL, relative to the state dir) */
  failuresFile: string;
}

/** Meta line beside each request line: what the collector needs to build the rows. */
export interface RequestMeta {
  id: string;
  /** estimated input / output tokens */
  t: number;
  o: number;
  /** the index of this request in its root shard (identical requests point at it) */
  r: number;
  /** 1 when the request asked for JSON output */
  j?: 1;
  input: Record<string, unknown>;
  source: RecordPosition;
}

export const prepFailuresFile = (runId: string) => path.join(runId, "prep-failures.jsonl");

const MAX_DUPLICATES_REPORTED = 50;

export async function runReadPhase(options: ReadPhaseOptions): Promise<ReadPhaseResult> {
  const { pipeline, stateDir, runId, signal, logger } = options;
  const spec = pipeline.spec;
  const resolvePath = (p: string) => path.resolve(pipeline.dir, p);
  const writer = new ShardWriter({
    stateDir,
    runId,
    limits: {
      maxRequests: spec.batch.max_requests,
      maxBytes: spec.batch.max_bytes,
      maxTokens: spec.batch.max_enqueued_tokens,
    },
  });
  const ids = new IdSet();
  const requests = new RequestIndex();
  const estimator = createEstimator(options.estimate);
  // the calibration's tokenizer tables (~60 MB) are dropped when the read phase ends
  const releaseEncodings = holdEncodings();
  const failuresFile = prepFailuresFile(runId);
  const failures = new SyncWriter(path.join(stateDir, failuresFile));
  const fingerprint = createHash("sha256");
  const totals: RunTotals = {
    read: 0,
    invalid: 0,
    rejected: 0,
    requests: 0,
    identical: 0,
    shards: 0,
    estimatedInputTokens: 0,
    estimatedOutputTokens: 0,
    estimatedCost: null,
  };
  const costByModel = new Map<string, { input: number; output: number }>();
  const duplicates: { id: string; at: RecordPosition; first?: RecordPosition }[] = [];
  let duplicateCount = 0;
  const fanout = new Map<string, FanoutRow[]>();
  const flushFanout = (root: string) => {
    const rows = fanout.get(root);
    if (rows?.length) options.onFanout?.(root, rows);
    fanout.delete(root);
  };

  const fail = (row: FailureRow) => {
    failures.write(`${JSON.stringify(row)}\n`);
    fingerprint.update(`!${row.error.code} ${row.source.file}:${row.source.line}\n`);
  };

  try {
    const transform = await pipeline.transform.plugin.create({
      options: pipeline.transform.options,
      resolvePath,
      logger,
      signal,
    });
    const records = guardSource(
      pipeline.source.plugin.read({
        options: pipeline.source.options,
        resolvePath,
        logger,
        signal,
        checkpoint: undefined,
      }),
      pipeline.source.label,
    );
    for await (const item of records) {
      totals.read++;
      if (totals.read % 10_000 === 0) {
        options.onProgress?.(totals.read);
        if (signal.aborted) throw interrupted();
      }
      if (isInvalidRecord(item)) {
        totals.invalid++;
        fail({
          id: positionId(item.position),
          status: "failed",
          error: { code: item.invalid.code, message: item.invalid.message, status_code: null },
          attempts: 0,
          batch_id: null,
          input: null,
          source: item.position,
        });
        continue;
      }
      const request = toRequest(transform, item, pipeline.transform.label);
      if (request instanceof BatchpipeError) {
        totals.rejected++;
        fail(failureRow(request.recordId ?? recordId(item), request.code, request.message, item));
        continue;
      }
      const id = request.custom_id;
      if (!ids.add(id)) {
        duplicateCount++;
        if (duplicates.length < MAX_DUPLICATES_REPORTED) duplicates.push({ id, at: item.position });
        continue;
      }
      // once a duplicate is known nothing will be sent: only keep checking ids
      if (duplicateCount > 0) continue;

      const bodyJson = JSON.stringify(request.body);
      const line = `{"custom_id":${JSON.stringify(id)},"method":"POST","url":${JSON.stringify(request.url)},"body":${bodyJson}}`;
      const bytes = Buffer.byteLength(line) + 1;
      const model = typeof request.body.model === "string" ? request.body.model : "";
      const tokens = estimator(model, request);
      const outputTokens = estimateOutputTokens(request.body, { url: request.url });
      const shardLine = {
        model,
        endpoint: request.url,
        line,
        bytes,
        tokens,
        outputTokens,
      };
      const tooLarge = writer.fits(shardLine);
      if (tooLarge) {
        totals.rejected++;
        fail(failureRow(id, "request_too_large", tooLarge, item));
        continue;
      }
      const digest = RequestIndex.digest(request.url, bodyJson);
      const same = requests.get(digest);
      if (same) {
        totals.identical++;
        const root = shardName(same.shard);
        fingerprint.update(`=${id} ${root}:${same.index}\n`);
        const rows = fanout.get(root) ?? [];
        rows.push({
          canonical: String(same.index),
          recordId: id,
          input: JSON.stringify(item.data),
          source: JSON.stringify(item.position),
        });
        fanout.set(root, rows);
        if (rows.length >= 1000) flushFanout(root);
        continue;
      }
      const json = wantsJson(request.body);
      const placed = writer.add(shardLine, (r) =>
        JSON.stringify({
          id,
          t: tokens,
          o: outputTokens,
          r,
          ...(json ? { j: 1 } : {}),
          input: item.data,
          source: item.position,
        }),
      );
      requests.set(digest, placed.seq, placed.index);
      fingerprint.update(line).update("\n");
      totals.requests++;
      totals.estimatedInputTokens += tokens;
      totals.estimatedOutputTokens += outputTokens;
      const perModel = costByModel.get(model) ?? { input: 0, output: 0 };
      perModel.input += tokens;
      perModel.output += outputTokens;
      costByModel.set(model, perModel);
    }
    if (duplicateCount > 0) {
      await findFirstPositions(pipeline, transform, duplicates, signal, logger);
      throw duplicateError(duplicates, duplicateCount);
    }
    for (const root of [...fanout.keys()]) flushFanout(root);
  } catch (error) {
    writer.abort();
    throw error;
  } finally {
    failures.close();
    releaseEncodings();
  }
  const shards = writer.finish();
  totals.shards = shards.length;
  totals.estimatedCost = sumCosts(costByModel);
  options.onProgress?.(totals.read);
  return { fingerprint: fingerprint.digest("hex"), totals, shards, failuresFile };
}

/** a source that throws something other than a BatchpipeError fails as PLUGIN_FAILED naming it */
function guardSource(items: AsyncIterable<SourceItem>, label: string): AsyncIterable<SourceItem> {
  const wrap = (error: unknown) => {
    if (isBatchpipeError(error) || (error as { name?: unknown })?.name === "AbortError") return error;
    return new BatchpipeError(
      ErrorCodes.PLUGIN_FAILED,
      `${label} failed while reading: ${(error as Error)?.message ?? String(error)}`,
      {
        hint: "Fix the source's problem and run again: nothing was submitted, the read starts over.",
        plugin: label,
        cause: error,
      },
    );
  };
  return {
    [Symbol.asyncIterator]() {
      const it = items[Symbol.asyncIterator]();
      return {
        next: () =>
          it.next().catch((error: unknown) => {
            throw wrap(error);
          }),
        return: (value?: unknown) => it.return?.(value) ?? Promise.resolve({ done: true, value: undefined }),
      };
    },
  };
}

function toRequest(
  transform: { toRequest(record: SourceRecord): RequestLine },
  record: SourceRecord,
  label: string,
): RequestLine | BatchpipeError {
  let request: RequestLine;
  try {
    request = transform.toRequest(record);
  } catch (error) {
    if (error instanceof BatchpipeError) return error;
    throw new BatchpipeError(
      ErrorCodes.PLUGIN_FAILED,
      `the transform threw on the record at ${record.position.file}:${record.position.line}: ${(error as Error)?.message ?? String(error)}`,
      {
        hint: "A transform should throw a BatchpipeError for a bad record; fix the plugin.",
        plugin: label,
        cause: error,
      },
    );
  }
  if (typeof request?.custom_id !== "string" || request.custom_id.length === 0) {
    return new BatchpipeError("invalid_request", "the transform produced an empty custom_id");
  }
  if (typeof request.url !== "string" || typeof request.body !== "object" || request.body === null) {
    return new BatchpipeError("invalid_request", "the transform produced a request without url or body", {
      recordId: request.custom_id,
    });
  }
  return request;
}

function failureRow(id: string, code: string, message: string, record: SourceRecord): FailureRow {
  return {
    id,
    status: "failed",
    error: { code, message, status_code: null },
    attempts: 0,
    batch_id: null,
    input: record.data,
    source: record.position,
  };
}

function recordId(record: SourceRecord): string {
  const id = record.data.id;
  return typeof id === "string" || typeof id === "number" ? String(id) : positionId(record.position);
}

function positionId(position: RecordPosition): string {
  return `${path.basename(position.file)}:${position.line}`;
}

function sumCosts(byModel: Map<string, { input: number; output: number }>): number | null {
  let total = 0;
  for (const [model, tokens] of byModel) {
    const cost = estimateCost({ model, inputTokens: tokens.input, outputTokens: tokens.output });
    if (cost === null) return null;
    total += cost;
  }
  return total;
}

/** the error path only: read the source again to tell where each duplicated id first appeared */
async function findFirstPositions(
  pipeline: EnginePipeline,
  transform: { toRequest(record: SourceRecord): RequestLine },
  duplicates: { id: string; at: RecordPosition; first?: RecordPosition }[],
  signal: AbortSignal,
  logger: Logger,
): Promise<void> {
  const wanted = new Map(duplicates.map((d) => [d.id, d]));
  const firsts = new Map<string, RecordPosition>();
  const records = pipeline.source.plugin.read({
    options: pipeline.source.options,
    resolvePath: (p: string) => path.resolve(pipeline.dir, p),
    logger,
    signal,
    checkpoint: undefined,
  });
  for await (const item of records) {
    if (isInvalidRecord(item)) continue;
    let id: string;
    try {
      id = transform.toRequest(item).custom_id;
    } catch {
      continue;
    }
    if (wanted.has(id) && !firsts.has(id)) firsts.set(id, item.position);
    if (firsts.size === wanted.size) break;
  }
  for (const d of duplicates) d.first = firsts.get(d.id);
}

/** Token estimates: exact (tokenizer) for a model's first requests, then the fast count scaled by what they showed. */
function createEstimator(mode: EstimateMode | undefined): (model: string, request: RequestLine) => number {
  const calibration = new Map<string, { exact: number; fast: number; n: number }>();
  let exactMs = 0;
  return (model, request) => {
    if (mode) return estimateRequestTokens(request, { mode });
    const c = calibration.get(model) ?? { exact: 0, fast: 0, n: 0 };
    calibration.set(model, c);
    const fast = estimateRequestTokens(request, { mode: "fast" });
    // BPE is quadratic in a long run without spaces (a base64 blob, a 50 MB line): calibrate on
    // small requests only, within a time budget
    if (c.n < CALIBRATION_REQUESTS && fast <= CALIBRATION_MAX_TOKENS && exactMs < CALIBRATION_MAX_MS) {
      const started = performance.now();
      const exact = estimateRequestTokens(request, { mode: "exact" });
      exactMs += performance.now() - started;
      c.exact += exact;
      c.fast += fast;
      c.n++;
      return exact;
    }
    // keep the fast count's own margin when it overestimates less than the sample said
    return Math.ceil((fast * Math.max(c.exact, 1)) / Math.max(c.fast, 1));
  };
}

const CALIBRATION_REQUESTS = 500;
const CALIBRATION_MAX_TOKENS = 2000;
const CALIBRATION_MAX_MS = 1000;

function duplicateError(
  duplicates: { id: string; at: RecordPosition; first?: RecordPosition }[],
  count: number,
): BatchpipeError {
  const where = (p: RecordPosition) => `${p.file}:${p.line}`;
  const firstAt = (d: { first?: RecordPosition }) => (d.first ? ` (first at ${where(d.first)})` : "");
  const lines = duplicates.slice(0, 10).map((d) => `  "${d.id}" at ${where(d.at)}${firstAt(d)}`);
  const more = count > lines.length ? `\n  … and ${count - lines.length} more` : "";
  const first = duplicates[0]!;
  return new BatchpipeError(
    ErrorCodes.DUPLICATE_ID,
    `${count} duplicate custom_id${count === 1 ? "" : "s"}; nothing was submitted:\n${lines.join("\n")}${more}`,
    {
      hint: "Make transform.id unique per record (e.g. include a key column), then run again.",
      loc: { file: first.at.file, line: first.at.line, column: 1 },
      recordId: first.id,
      details: duplicates.map(
        (d) =>
          new BatchpipeError(ErrorCodes.DUPLICATE_ID, `duplicate custom_id "${d.id}"${firstAt(d)}`, {
            loc: { file: d.at.file, line: d.at.line, column: 1 },
            recordId: d.id,
          }),
      ),
    },
  );
}

export function interrupted(): BatchpipeError {
  return new BatchpipeError(ErrorCodes.INTERRUPTED, "interrupted; the state is saved", {
    hint: "Run the same command again to resume.",
  });
}
