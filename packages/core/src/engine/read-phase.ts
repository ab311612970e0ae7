/**
 * The read phase: source → transform → shard files on disk, streaming, in constant memory.
 *
 * The whole source is sharded before the first upload. That is what lets batchpipe promise that a
 * duplicate custom_id costs nothing (the run stops before any spend) and compute the dataset
 * fingerprint for allow_same_dataset before paying. Reading and sharding run at local-disk speed
 * (~100k records/s), negligible next to a batch's hours.
 *
 * Every `checkpointEvery` records (10,000 by default) the read is checkpointed: open shard files and
 * the prep-failures file are synced and their lengths recorded, with the source's cursor, the totals,
 * the estimator's calibration, the fingerprint chain and the fan-out found so far (`onCheckpoint`
 * commits it all in one transaction). A read that stops (the source throws, a signal, kill -9)
 * continues from there: files are cut back to the recorded lengths, the id and request tables are
 * rebuilt from the shard files, and the source is asked to read after the recorded cursor.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { BatchpipeError, ErrorCodes, isBatchpipeError } from "../errors.js";
import { holdEncodings } from "../estimate/encoding.js";
import type { EstimateMode } from "../estimate/estimate-tokens.js";
import { estimateOutputTokens, estimateRequestTokens } from "../estimate/index.js";
import { estimateCost } from "../estimate/pricing.js";
import {
  type Checkpoint,
  type FailureRow,
  isInvalidRecord,
  type Logger,
  type RecordPosition,
  type RequestLine,
  type SourceItem,
  type SourceRecord,
} from "../plugin.js";
import type { FanoutBatch, FanoutRow, RunTotals, ShardRow } from "../state/index.js";
import { wantsJson } from "./classify.js";
import { IdSet, RequestIndex } from "./id-index.js";
import { ShardWriter, type ShardWriterState, SyncWriter, shardName } from "./shard-writer.js";
import type { EnginePipeline } from "./types.js";

export interface ReadPhaseOptions {
  pipeline: EnginePipeline;
  stateDir: string;
  runId: string;
  signal: AbortSignal;
  logger: Logger;
  estimate?: EstimateMode;
  onProgress?(records: number): void;
  /** records between checkpoints: a multiple of FINGERPRINT_SEGMENT (default 10,000) */
  checkpointEvery?: number;
  /**
   * Make a checkpoint durable: `checkpoint` with the shards sealed and the identical requests found
   * since the previous one, in one transaction. Without it checkpoints only drop the fan-out rows.
   */
  onCheckpoint?(checkpoint: ReadCheckpoint, sealed: ShardRow[], fanout: FanoutBatch[]): void;
  /** continue the read after the last checkpoint of an earlier attempt */
  resume?: ReadResume;
  /** false: a failure will not keep the state (the source restarted instead of resuming) */
  resumable?: boolean;
}

export interface ReadPhaseResult {
  fingerprint: string;
  totals: RunTotals;
  /** every shard, in order (those recorded by checkpoints included) */
  shards: ShardRow[];
  /** identical requests found since the last checkpoint */
  fanout: FanoutBatch[];
  /** failure rows of records that never became requests (JSONL, relative to the state dir) */
  failuresFile: string;
}

/** Everything needed to continue a read after `read` records (stored as JSON in the run state). */
export interface ReadCheckpoint {
  version: 1;
  /** readIdentity() of the pipeline that wrote it: a changed spec starts the read over */
  identity: string;
  /** records handled (valid and invalid) */
  read: number;
  /** the cursor of the last record handled; null when the source gave none (no resume) */
  source: { cursor: Checkpoint } | null;
  /** where the read's first record was: a source that yields it again ignored the cursor */
  first: RecordPosition | null;
  totals: RunTotals;
  costByModel: [string, { input: number; output: number }][];
  estimator: EstimatorState;
  /** the fingerprint chain up to `read` (hex) */
  fingerprint: string;
  writer: ShardWriterState;
  /** bytes of the prep-failures file */
  failuresBytes: number;
}

export interface ReadResume {
  checkpoint: ReadCheckpoint;
  /** the shards the checkpoints recorded (all sealed) */
  sealed: ShardRow[];
  /** the record ids of the fan-out rows recorded */
  fanoutIds: Iterable<string>;
}

/**
 * The read cannot continue from its checkpoint (the source yielded its first record again, or the
 * shard files do not match the state): the caller forgets the checkpoint and reads from the start.
 */
export class ReadStartsOver extends Error {
  constructor(
    message: string,
    readonly sourceIgnoredCursor: boolean,
  ) {
    super(message);
  }
}

/** How a failed read phase leaves the state: kept to resume at record `resumeAt`, or not. */
export interface ReadFailure {
  keep: boolean;
  resumeAt: number;
}

/** what the read phase decided about the state when it threw `error` (undefined: not its error) */
export function readFailure(error: unknown): ReadFailure | undefined {
  return error !== null && typeof error === "object" ? readFailures.get(error) : undefined;
}

/** records per fingerprint segment; checkpoints fall on segment ends */
export const FINGERPRINT_SEGMENT = 1000;
export const DEFAULT_CHECKPOINT_EVERY = 10_000;

/** RunOptions.readCheckpointEvery: records between read checkpoints, rounded up to a multiple of 1,000 */
export function resolveCheckpointEvery(every: number | undefined): number {
  if (every === undefined) return DEFAULT_CHECKPOINT_EVERY;
  if (!Number.isSafeInteger(every) || every <= 0) {
    throw new BatchpipeError(
      ErrorCodes.USAGE,
      `readCheckpointEvery ${every} is not a positive whole number`,
      {
        hint: "Give a record count such as 10000 (or leave it out for the default, 10,000).",
      },
    );
  }
  return Math.ceil(every / FINGERPRINT_SEGMENT) * FINGERPRINT_SEGMENT;
}

/** what shapes the read's output: a checkpoint written under another identity is not resumed */
export function readIdentity(pipeline: EnginePipeline): string {
  const { spec } = pipeline;
  const parts = [
    pipeline.source.use,
    pipeline.source.options,
    pipeline.transform.use,
    pipeline.transform.options,
    spec.batch.max_requests,
    spec.batch.max_bytes,
    spec.batch.max_enqueued_tokens,
  ];
  let text: string;
  try {
    text = JSON.stringify(parts) ?? "";
  } catch {
    text = String(parts);
  }
  return createHash("sha256").update(text).digest("hex").slice(0, 32);
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
  const resume = options.resume;
  const saved = resume?.checkpoint;
  const every = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  const resolvePath = (p: string) => path.resolve(pipeline.dir, p);
  const failuresFile = prepFailuresFile(runId);
  const ids = new IdSet();
  const requests = new RequestIndex();
  let writer: ShardWriter | undefined;
  let failures: SyncWriter;
  try {
    writer = new ShardWriter({
      stateDir,
      runId,
      limits: {
        maxRequests: spec.batch.max_requests,
        maxBytes: spec.batch.max_bytes,
        maxTokens: spec.batch.max_enqueued_tokens,
      },
      resume: resume && saved ? { state: saved.writer, sealed: resume.sealed } : undefined,
    });
    if (resume && saved) rebuildTables({ stateDir, runId, resume, ids, requests });
    failures = new SyncWriter(
      path.join(stateDir, failuresFile),
      saved ? { truncateTo: saved.failuresBytes } : {},
    );
  } catch (error) {
    writer?.abort();
    if (!saved || isBatchpipeError(error)) throw error;
    throw new ReadStartsOver(
      `the files of the interrupted read do not match its checkpoint (${(error as Error).message})`,
      false,
    );
  }
  const estimator = createEstimator(options.estimate, saved?.estimator);
  // the calibration's tokenizer tables (~60 MB) are dropped when the read phase ends
  const releaseEncodings = holdEncodings();
  const fingerprint = new FingerprintChain(saved?.fingerprint);
  const totals: RunTotals = saved
    ? { ...saved.totals }
    : {
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
  const costByModel = new Map<string, { input: number; output: number }>(saved?.costByModel ?? []);
  const duplicates: { id: string; at: RecordPosition; first?: RecordPosition }[] = [];
  let duplicateCount = 0;
  // identical requests found since the last checkpoint (at most checkpointEvery rows)
  let fanout = new Map<string, FanoutRow[]>();
  const takeFanout = (): FanoutBatch[] => {
    const out = [...fanout].map(([root, rows]) => ({ root, rows }));
    fanout = new Map();
    return out;
  };
  let first: RecordPosition | null = saved?.first ?? null;
  // records the last durable checkpoint covers, and whether the source can resume there
  let recorded = saved?.read ?? 0;
  let recordedCursor = saved?.source != null;
  let sealedRecorded = writer.sealed.length;
  let yielded = 0;

  const fail = (row: FailureRow) => {
    failures.write(`${JSON.stringify(row)}\n`);
    fingerprint.update(`!${row.error.code} ${row.source.file}:${row.source.line}\n`);
  };

  // The checkpoint in flight: its files are synced off the main thread while reading goes on
  // (files only grow, so the lengths it recorded stay valid), then it is committed. One at a time.
  let pending: Promise<void> | undefined;
  const settle = async () => {
    const p = pending;
    pending = undefined;
    await p;
  };
  const checkpoint = async (last: SourceItem) => {
    if (!options.onCheckpoint) {
      fanout.clear();
      return;
    }
    await settle();
    const onCheckpoint = options.onCheckpoint;
    const source = last.cursor === undefined ? null : { cursor: last.cursor };
    const shards = writer.checkpoint();
    const state: ReadCheckpoint = {
      version: 1,
      identity: readIdentity(pipeline),
      read: totals.read,
      source,
      first,
      totals: { ...totals },
      costByModel: [...costByModel].map(([model, c]) => [model, { ...c }]),
      estimator: estimator.state(),
      fingerprint: fingerprint.value,
      writer: shards.state,
      failuresBytes: failures.flushed(),
    };
    const sealed = writer.sealed.slice(sealedRecorded);
    sealedRecorded = writer.sealed.length;
    const found = takeFanout();
    pending = syncFiles([...shards.files, path.join(stateDir, failuresFile)]).then(() => {
      onCheckpoint(state, sealed, found);
      recorded = state.read;
      recordedCursor = source !== null;
    });
    // a failure surfaces where the checkpoint is settled, never as an unhandled rejection
    pending.catch(() => undefined);
  };

  let transformLabel: string | undefined;
  try {
    const transform = await pipeline.transform.plugin.create({
      options: pipeline.transform.options,
      resolvePath,
      logger,
      signal,
    });
    transformLabel = pipeline.transform.label;

    const handle = (item: SourceItem) => {
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
        return;
      }
      const request = toRequest(transform, item, pipeline.transform.label);
      if (request instanceof BatchpipeError) {
        totals.rejected++;
        fail(failureRow(request.recordId ?? recordId(item), request.code, request.message, item));
        return;
      }
      const id = request.custom_id;
      if (!ids.add(id)) {
        duplicateCount++;
        if (duplicates.length < MAX_DUPLICATES_REPORTED) duplicates.push({ id, at: item.position });
        return;
      }
      // once a duplicate is known nothing will be sent: only keep checking ids
      if (duplicateCount > 0) return;

      const bodyJson = JSON.stringify(request.body);
      const line = `${requestLinePrefix(id, request.url)}${bodyJson}}`;
      const bytes = Buffer.byteLength(line) + 1;
      const model = typeof request.body.model === "string" ? request.body.model : "";
      const tokens = estimator.estimate(model, request);
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
        return;
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
        return;
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
    };

    const records = guardSource(
      pipeline.source.plugin.read({
        options: pipeline.source.options,
        resolvePath,
        logger,
        signal,
        checkpoint: saved?.source ? saved.source.cursor : undefined,
      }),
      pipeline.source.label,
    );
    for await (const item of records) {
      yielded++;
      if (first === null) first = item.position;
      else if (yielded === 1 && saved && samePosition(item.position, first)) {
        throw new ReadStartsOver(
          `${pipeline.source.label} yielded its first record again instead of resuming after record ${saved.read}`,
          true,
        );
      }
      totals.read++;
      handle(item);
      if (totals.read % FINGERPRINT_SEGMENT === 0) fingerprint.cut();
      if (totals.read % every === 0 && duplicateCount === 0) {
        await checkpoint(item);
        if (signal.aborted) throw interrupted();
      }
      if (totals.read % PROGRESS_EVERY === 0) {
        options.onProgress?.(totals.read);
        if (signal.aborted) throw interrupted();
      }
    }
    if (duplicateCount > 0) {
      await findFirstPositions(pipeline, transform, duplicates, signal, logger);
      throw duplicateError(duplicates, duplicateCount);
    }
    // the last checkpoint is committed before the caller records the end of the read
    await settle();
  } catch (error) {
    writer.abort();
    // a checkpoint still in flight lands first (the caller may forget the read next)
    await settle().catch(() => undefined);
    if (error instanceof ReadStartsOver) throw error;
    const fromSource = sourceErrors.has(error as object);
    const fromTransform =
      isBatchpipeError(error) &&
      error.code === ErrorCodes.PLUGIN_FAILED &&
      transformLabel !== undefined &&
      error.plugin === transformLabel;
    const keep =
      options.resumable !== false &&
      recorded > 0 &&
      recordedCursor &&
      !(isBatchpipeError(error) && error.code === ErrorCodes.DUPLICATE_ID) &&
      !fromTransform &&
      // a source that cannot even start from its cursor: the next run reads from the start
      !(fromSource && saved && yielded === 0);
    const failure: ReadFailure = { keep, resumeAt: keep ? recorded + 1 : 1 };
    const out = fromSource ? sourceFailure(error as BatchpipeError, failure) : error;
    if (out !== null && typeof out === "object") readFailures.set(out, failure);
    throw out;
  } finally {
    failures.close();
    releaseEncodings();
  }
  fingerprint.cut();
  const shards = writer.finish();
  totals.shards = shards.length;
  totals.estimatedCost = sumCosts(costByModel);
  options.onProgress?.(totals.read);
  return { fingerprint: fingerprint.value, totals, shards, fanout: takeFanout(), failuresFile };
}

const PROGRESS_EVERY = 10_000;

/** errors thrown by the source (wrapped by guardSource) */
const sourceErrors = new WeakSet<object>();
const readFailures = new WeakMap<object, ReadFailure>();

/** a source's error with a hint that says where the next run reads from */
function sourceFailure(error: BatchpipeError, failure: ReadFailure): BatchpipeError {
  const wrapped = error.code === ErrorCodes.PLUGIN_FAILED && error.hint === SOURCE_HINT;
  const where = failure.keep
    ? `reading resumes at record ${failure.resumeAt} (nothing was submitted; the ${failure.resumeAt - 1} records before it are kept).`
    : "nothing was submitted, the read starts over.";
  const hint = wrapped
    ? `Fix the source and run again; ${where}`
    : `${error.hint ? `${error.hint} ` : ""}${where.charAt(0).toUpperCase()}${where.slice(1)}`;
  return new BatchpipeError(error.code, error.message, {
    hint,
    loc: error.loc,
    recordId: error.recordId,
    plugin: error.plugin,
    details: error.details,
    cause: error.cause ?? error,
  });
}

const SOURCE_HINT = "Fix the source's problem and run again.";

/** a source that throws something other than a BatchpipeError fails as PLUGIN_FAILED naming it */
function guardSource(items: AsyncIterable<SourceItem>, label: string): AsyncIterable<SourceItem> {
  const wrap = (error: unknown) => {
    if ((error as { name?: unknown })?.name === "AbortError") return error;
    const out = isBatchpipeError(error)
      ? error
      : new BatchpipeError(
          ErrorCodes.PLUGIN_FAILED,
          `${label} failed while reading: ${(error as Error)?.message ?? String(error)}`,
          { hint: SOURCE_HINT, plugin: label, cause: error },
        );
    sourceErrors.add(out);
    return out;
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

/** the estimator's calibration, kept by read checkpoints */
export interface EstimatorState {
  calibration: [string, { exact: number; fast: number; n: number }][];
  exactMs: number;
}

/** Token estimates: exact (tokenizer) for a model's first requests, then the fast count scaled by what they showed. */
function createEstimator(
  mode: EstimateMode | undefined,
  restored?: EstimatorState,
): { estimate(model: string, request: RequestLine): number; state(): EstimatorState } {
  const calibration = new Map<string, { exact: number; fast: number; n: number }>(
    restored?.calibration.map(([model, c]) => [model, { ...c }]) ?? [],
  );
  let exactMs = restored?.exactMs ?? 0;
  const estimate = (model: string, request: RequestLine) => {
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
  return {
    estimate,
    state: () => ({ calibration: [...calibration].map(([model, c]) => [model, { ...c }]), exactMs }),
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

/** the request line up to its body: `{"custom_id":…,"method":"POST","url":…,"body":` */
function requestLinePrefix(id: string, url: string): string {
  return `{"custom_id":${JSON.stringify(id)},"method":"POST","url":${JSON.stringify(url)},"body":`;
}

function samePosition(a: RecordPosition, b: RecordPosition): boolean {
  return a.file === b.file && a.line === b.line;
}

/**
 * The dataset fingerprint, a hash chain over segments of FINGERPRINT_SEGMENT records:
 * fp_k = sha256(fp_{k-1} || sha256(segment k)). A chain value is a string, so a resumed read
 * continues it and ends with the fingerprint an uninterrupted read gives.
 */
class FingerprintChain {
  private chain: Buffer;
  private segment = createHash("sha256");

  constructor(from?: string) {
    this.chain = from
      ? Buffer.from(from, "hex")
      : createHash("sha256").update("batchpipe dataset 2").digest();
  }

  update(text: string): this {
    this.segment.update(text);
    return this;
  }

  /** end the current segment */
  cut(): void {
    this.chain = createHash("sha256").update(this.chain).update(this.segment.digest()).digest();
    this.segment = createHash("sha256");
  }

  get value(): string {
    return this.chain.toString("hex");
  }
}

/**
 * Resume: the id and request tables as they were at the checkpoint, from the shard files (cut at
 * their recorded lengths), the ids of request_too_large failures and the recorded fan-out ids.
 */
function rebuildTables(o: {
  stateDir: string;
  runId: string;
  resume: ReadResume;
  ids: IdSet;
  requests: RequestIndex;
}): void {
  const { stateDir, resume, ids, requests } = o;
  const files = [
    ...resume.sealed.map((s) => ({ seq: s.seq, file: s.file, bytes: undefined as number | undefined })),
    ...resume.checkpoint.writer.open.map((s) => ({
      seq: s.seq,
      file: path.join(o.runId, "shards", `${shardName(s.seq)}.jsonl`),
      bytes: s.fileBytes as number | undefined,
    })),
  ];
  for (const { seq, file, bytes } of files) {
    let index = 0;
    for (const line of readLinesSync(path.join(stateDir, file), bytes)) {
      const { custom_id: id, url } = JSON.parse(line) as { custom_id: string; url: string };
      const prefix = requestLinePrefix(id, url);
      if (!line.startsWith(prefix) || !line.endsWith("}")) {
        throw new Error(`line ${index + 1} of ${file} is not a request line`);
      }
      ids.add(id);
      // the digest of the same text as when the line was written: the body's JSON as is
      requests.set(RequestIndex.digest(url, line.slice(prefix.length, -1)), seq, index);
      index++;
    }
  }
  const failuresPath = path.join(stateDir, prepFailuresFile(o.runId));
  for (const line of readLinesSync(failuresPath, resume.checkpoint.failuresBytes)) {
    const row = JSON.parse(line) as FailureRow;
    // a request too large for any shard had its id taken
    if (row.error.code === "request_too_large") ids.add(row.id);
  }
  for (const id of resume.fanoutIds) ids.add(id);
}

/** make files durable, in parallel on libuv's threads (a separate descriptor: the writer may close its own) */
async function syncFiles(files: string[]): Promise<void> {
  await Promise.all(
    files.map(async (file) => {
      const handle = await fs.promises.open(file, "r");
      try {
        await handle.datasync();
      } finally {
        await handle.close();
      }
    }),
  );
}

/** the lines of the first `limit` bytes of a file (all of it when undefined), synchronously */
function* readLinesSync(file: string, limit?: number): Generator<string> {
  const fd = fs.openSync(file, "r");
  try {
    const end = limit ?? fs.fstatSync(fd).size;
    const chunk = Buffer.allocUnsafe(1 << 20);
    let parts: Buffer[] = [];
    let pos = 0;
    while (pos < end) {
      const n = fs.readSync(fd, chunk, 0, Math.min(chunk.length, end - pos), pos);
      if (n === 0) throw new Error(`${file} is shorter than ${end} bytes`);
      pos += n;
      const view = chunk.subarray(0, n);
      let start = 0;
      for (let nl = view.indexOf(10); nl !== -1; nl = view.indexOf(10, start)) {
        parts.push(view.subarray(start, nl));
        yield Buffer.concat(parts).toString("utf8");
        parts = [];
        start = nl + 1;
      }
      // copy: the chunk is reused
      if (start < n) parts.push(Buffer.from(view.subarray(start)));
    }
    if (parts.length > 0) throw new Error(`${file} ends inside a line at ${end} bytes`);
  } finally {
    fs.closeSync(fd);
  }
}
