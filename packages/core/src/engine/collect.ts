/**
 * Collection of one ended batch: stream its output and error files line by line, join each line
 * to the shard's request list by custom_id, route every request to exactly one outcome (success,
 * final failure, or a retry shard) and write the rows to the sinks. The result is deterministic for
 * a given batch, so a delivery interrupted by a crash is simply done again.
 */
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import type { Readable } from "node:stream";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import { estimateCost } from "../estimate/pricing.js";
import type { FailureRow, RecordPosition, SuccessRow, Usage } from "../plugin.js";
import type { BatchInfo, BatchProvider } from "../provider/types.js";
import { attachRawJson, compactJson, memberJson } from "../raw-json.js";
import type { FanoutRow, ShardRow } from "../state/index.js";
import { classifyLine, extractOutput, isObject, type LineOutcome, toUsage } from "./classify.js";
import type { RequestMeta } from "./read-phase.js";
import { retryShardName, SyncWriter } from "./shard-writer.js";
import type { SinkSet } from "./sink-set.js";

export interface CollectOptions {
  provider: BatchProvider;
  stateDir: string;
  shard: ShardRow;
  /** the ended batch; null when it disappeared from the provider */
  batch: BatchInfo | null;
  fanout: FanoutRow[];
  maxAttempts: number;
  /** the run is being cancelled: nothing is retried */
  noRetry: boolean;
  sinks: SinkSet;
  signal?: AbortSignal;
  /**
   * Deliveries are cut into parts of `partSize` requests so that no sink buffers a whole shard.
   * `partsDone` parts were committed before (a resumed collection re-derives them without writing);
   * `commitPart` commits one and records it with the counters it added.
   */
  partSize: number;
  partsDone: number;
  commitPart(part: number, delta: CollectResult): Promise<void>;
}

/** RunOptions.deliveryPartSize: requests per delivery part (default 5,000) */
export function resolvePartSize(size: number | undefined): number {
  if (size === undefined) return 5000;
  if (!Number.isSafeInteger(size) || size <= 0) {
    throw new BatchpipeError(ErrorCodes.USAGE, `deliveryPartSize ${size} is not a positive whole number`, {
      hint: "Give a request count such as 5000 (or leave it out for the default).",
    });
  }
  return size;
}

export interface CollectResult {
  succeeded: number;
  failed: number;
  failedByCode: Record<string, number>;
  retried: number;
  unexpected: number;
  missing: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
  retryShard: ShardRow | null;
}

export async function collectShard(options: CollectOptions): Promise<CollectResult> {
  const metas = await MetaIndex.load(path.join(options.stateDir, options.shard.metaFile));
  try {
    return await collectWith(options, metas);
  } finally {
    metas.close();
  }
}

async function collectWith(options: CollectOptions, metas: MetaIndex): Promise<CollectResult> {
  const { shard, batch } = options;
  const fanout = new Map<string, FanoutRow[]>();
  for (const row of options.fanout) {
    const list = fanout.get(row.canonical) ?? [];
    list.push(row);
    fanout.set(row.canonical, list);
  }
  let result = emptyResult();
  const seen = new Set<string>();
  const retry = new Set<number>();
  const batchId = batch?.id ?? shard.batchId;
  let routed = 0;
  /** false while re-deriving parts committed before a crash: no writes, no counting */
  const live = () => Math.floor(routed / options.partSize) >= options.partsDone;

  const route = async (id: string, entry: MetaEntry, outcome: LineOutcome, raw?: RawLine) => {
    await routeOne(id, entry, outcome, raw);
    routed++;
    const part = routed / options.partSize - 1;
    if (Number.isInteger(part) && part >= options.partsDone) {
      await options.commitPart(part, result);
      result = emptyResult();
    }
  };

  /** `raw`: the output line `outcome` was read from (its JSON text goes to the rows) */
  const routeOne = async (id: string, entry: MetaEntry, outcome: LineOutcome, raw?: RawLine) => {
    const metaLine = entry.line;
    const meta = JSON.parse(metaLine) as RequestMeta;
    if (!live()) {
      const retryable =
        outcome.kind === "failure" &&
        outcome.retryable &&
        !options.noRetry &&
        shard.attempt < options.maxAttempts;
      if (retryable) retry.add(entry.index);
      return;
    }
    if (outcome.kind === "success") {
      const extracted = extractOutput(shard.endpoint, outcome.body, meta.j === 1);
      const usage = toUsage(outcome.body.usage);
      if (usage) {
        result.inputTokens += usage.input_tokens;
        result.outputTokens += usage.output_tokens;
        result.cost +=
          estimateCost({
            model: shard.model,
            inputTokens: usage.input_tokens,
            outputTokens: usage.output_tokens,
            cachedTokens: usage.cached_tokens,
          }) ?? 0;
      }
      if (!extracted.ok) {
        outcome = {
          kind: "failure",
          code: "invalid_json_output",
          message: extracted.message,
          statusCode: null,
          retryable: false,
        };
      } else {
        const model = typeof outcome.body.model === "string" ? outcome.body.model : shard.model || null;
        const responseJson = raw === undefined ? undefined : (raw.body ?? bodyJson(raw.text));
        const usageText = usage ? usageJson(usage) : undefined;
        for (const target of targets(id, meta, metaLine, fanout)) {
          const row = buildSuccessRow(
            {
              id: target.id,
              output: extracted.output,
              response: outcome.body,
              usage,
              model,
              batch_id: batchId,
              attempts: shard.attempt,
              input: target.input,
              source: target.source,
            },
            {
              output: extracted.json,
              response: responseJson,
              usage: usageText,
              input: target.inputJson,
              source: target.sourceJson,
            },
          );
          result.succeeded++;
          await options.sinks.write(row);
        }
        return;
      }
    }
    if (outcome.retryable && !options.noRetry && shard.attempt < options.maxAttempts) {
      retry.add(entry.index);
      result.retried++;
      return;
    }
    for (const target of targets(id, meta, metaLine, fanout)) {
      const row: FailureRow = attachRawJson(
        {
          id: target.id,
          status: "failed",
          error: { code: outcome.code, message: outcome.message, status_code: outcome.statusCode },
          attempts: shard.attempt,
          batch_id: batchId,
          input: target.input,
          source: target.source,
        },
        { input: target.inputJson, source: target.sourceJson },
      );
      result.failed++;
      result.failedByCode[outcome.code] = (result.failedByCode[outcome.code] ?? 0) + 1;
      await options.sinks.write(row);
    }
  };

  for (const fileId of [batch?.output_file_id, batch?.error_file_id]) {
    if (!fileId) continue;
    const stream = await options.provider.downloadFile(fileId, { signal: options.signal });
    for await (const text of lines(stream)) {
      if (text.trim() === "") continue;
      let line: unknown;
      const split = splitResultLine(text);
      if (split) line = split.line;
      else {
        try {
          line = JSON.parse(text);
        } catch {
          if (live()) result.unexpected++;
          continue;
        }
      }
      const id = isObject(line) && typeof line.custom_id === "string" ? line.custom_id : undefined;
      const entry = id === undefined ? undefined : metas.get(id);
      const outcome = isObject(line) ? classifyLine(line) : null;
      if (id === undefined || !entry || seen.has(id) || !outcome) {
        if (live()) result.unexpected++;
        continue;
      }
      seen.add(id);
      await route(id, entry, outcome, { text, body: split?.body });
    }
  }

  // requests absent from both files
  const lineErrors = new Map<number, { code: string; message: string }>();
  for (const error of batch?.errors ?? []) {
    if (error.line !== null)
      lineErrors.set(error.line, { code: error.code ?? "invalid_request", message: error.message });
  }
  for (const [id, entry] of metas.entries()) {
    if (seen.has(id)) continue;
    const lineError = lineErrors.get(entry.index + 1);
    if (!lineError && live()) result.missing++;
    await route(
      id,
      entry,
      lineError
        ? { kind: "failure", ...lineError, statusCode: null, retryable: false }
        : missingOutcome(batch),
    );
  }

  if (retry.size > 0) result.retryShard = await writeRetryShard(options, metas, retry);
  return result;
}

function emptyResult(): CollectResult {
  return {
    succeeded: 0,
    failed: 0,
    failedByCode: {},
    retried: 0,
    unexpected: 0,
    missing: 0,
    inputTokens: 0,
    outputTokens: 0,
    cost: 0,
    retryShard: null,
  };
}

function missingOutcome(batch: BatchInfo | null): LineOutcome {
  const failure = (code: string, message: string): LineOutcome => ({
    kind: "failure",
    code,
    message,
    statusCode: null,
    retryable: true,
  });
  if (!batch)
    return failure("batch_missing", "the batch disappeared from the provider before its results were read");
  switch (batch.status) {
    case "expired":
      return failure("batch_expired", "the request was not executed before the completion window expired");
    case "cancelled":
      return failure("batch_cancelled", "the batch was cancelled before the request was executed");
    case "failed": {
      const first = batch.errors[0];
      return failure(first?.code ?? "batch_failed", first?.message ?? "the batch failed");
    }
    default:
      return failure(
        "missing_result",
        `the ${batch.status} batch has no line for this request in either file`,
      );
  }
}

/**
 * A success row as the engine delivers it: `json` holds the JSON text the engine already has for
 * `output`, `response`, `usage`, `input` and `source` (see raw-json.ts), which sinks write instead of
 * serialising those values again. Exported for bench/plugins-sinks.js, which builds its rows with it.
 */
export function buildSuccessRow(
  fields: Omit<SuccessRow, "status" | "response"> & { response: Record<string, unknown> },
  json: { output?: string; response?: string; usage?: string; input?: string; source?: string },
): SuccessRow {
  // field by field, in SuccessRow's key order: rowToJson relies on that order
  const row: SuccessRow = {
    id: fields.id,
    status: "success",
    output: fields.output,
    response: fields.response,
    usage: fields.usage,
    model: fields.model,
    batch_id: fields.batch_id,
    attempts: fields.attempts,
    input: fields.input,
    source: fields.source,
  };
  return attachRawJson(row, json);
}

/** the JSON text of what toUsage built (its keys in its order; its numbers are finite) */
export function usageJson(usage: Usage): string {
  let json = `{"input_tokens":${usage.input_tokens},"output_tokens":${usage.output_tokens},"total_tokens":${usage.total_tokens}`;
  if (usage.cached_tokens !== undefined) json += `,"cached_tokens":${usage.cached_tokens}`;
  if (usage.reasoning_tokens !== undefined) json += `,"reasoning_tokens":${usage.reasoning_tokens}`;
  return `${json}}`;
}

const RESPONSE_BODY = ["response", "body"];
const INPUT = ["input"];
const SOURCE = ["source"];
const INPUT_KEY = ',"input":';
const SOURCE_KEY = ',"source":';

/**
 * The JSON text of `response.body` in an output line, when it is the object classifyLine took as the
 * body (a line without an object body gets `{}`, which has no text here).
 */
export function bodyJson(line: string): string | undefined {
  const json = memberJson(line, RESPONSE_BODY);
  return json?.charCodeAt(0) === 0x7b ? json : undefined;
}

/** an output line, and the JSON text of its `response.body` when splitResultLine found it */
interface RawLine {
  text: string;
  body: string | undefined;
}

const STRING = String.raw`"([^"\\\x00-\x1f]*(?:\\.[^"\\\x00-\x1f]*)*)"`;
const STATUS = String.raw`(0|[1-9]\d{0,2})`;
/** JSON's whitespace (\s would take more) */
const WS = "[ \\t\\r\\n]*";
/** a result line's head up to the body, as the emulator writes it (JSON.stringify: no whitespace) */
const COMPACT_HEAD = new RegExp(
  String.raw`\{"id":${STRING},"custom_id":${STRING},"response":\{"status_code":${STATUS},"request_id":(?:${STRING}|null),"body":(?=\{)`,
  "y",
);
const COMPACT_TAIL = '},"error":null}';
/** the same with whitespace between tokens, as OpenAI writes it (Python's `", "` and `": "`) */
const SPACED_HEAD = new RegExp(
  String.raw`${WS}\{${WS}"id"${WS}:${WS}${STRING}${WS},${WS}"custom_id"${WS}:${WS}${STRING}${WS},${WS}"response"${WS}:${WS}\{${WS}"status_code"${WS}:${WS}${STATUS}${WS},${WS}"request_id"${WS}:${WS}(?:${STRING}|null)${WS},${WS}"body"${WS}:${WS}(?=\{)`,
  "y",
);
const SPACED_TAIL = new RegExp(String.raw`\}${WS},${WS}"error"${WS}:${WS}null${WS}\}${WS}$`, "g");

/**
 * A success-shaped output line (`{"id", "custom_id", "response": {"status_code", "request_id",
 * "body"}, "error": null}`, in that order), parsed so that the JSON text of its body comes for free:
 * the head and tail are matched by patterns, the body between them is parsed on its own (a text that
 * is not exactly one JSON value throws), so the result is what JSON.parse(text) gives. Any other
 * line (other keys or order, escaped keys, a non-null error) gives undefined: parse it whole.
 */
export function splitResultLine(text: string): { line: Record<string, unknown>; body: string } | undefined {
  let head = COMPACT_HEAD;
  let start: number;
  let end: number;
  let match = matchAt(COMPACT_HEAD, text);
  if (
    match &&
    text.endsWith(COMPACT_TAIL) &&
    text.charCodeAt(text.length - COMPACT_TAIL.length - 1) === 0x7d
  ) {
    start = COMPACT_HEAD.lastIndex;
    end = text.length - COMPACT_TAIL.length;
  } else {
    head = SPACED_HEAD;
    match = matchAt(SPACED_HEAD, text);
    if (!match) return undefined;
    start = SPACED_HEAD.lastIndex;
    SPACED_TAIL.lastIndex = Math.max(start, text.length - 64);
    const tail = SPACED_TAIL.exec(text);
    if (!tail) return undefined;
    end = tail.index;
  }
  try {
    let body = text.slice(start, end);
    const parsed = JSON.parse(body) as Record<string, unknown>;
    // a writer that puts no whitespace in its envelope puts none in its bodies (JSON.stringify);
    // OpenAI's writer puts `", "` and `": "` in both
    if (head === SPACED_HEAD) body = compactJson(body);
    const line = {
      id: stringValue(match[1]!),
      custom_id: stringValue(match[2]!),
      response: {
        status_code: Number(match[3]),
        request_id: match[4] === undefined ? null : stringValue(match[4]),
        body: parsed,
      },
      error: null,
    };
    return { line, body };
  } catch {
    return undefined;
  }
}

function matchAt(pattern: RegExp, text: string): RegExpExecArray | null {
  pattern.lastIndex = 0;
  return pattern.exec(text);
}

/** the value of a JSON string's inner text */
function stringValue(inner: string): string {
  return inner.includes("\\") ? (JSON.parse(`"${inner}"`) as string) : inner;
}

/** the JSON text of a shard meta line's `input` and `source` (parsed as `meta`) */
export function metaJson(metaLine: string, meta: RequestMeta): { input?: string; source?: string } {
  // read-phase.ts writes JSON.stringify({ id, t, o, r, j?, input, source }): the input starts after
  // the first `,"input":` (before it come a JSON string and numbers) and ends at the last
  // `,"source":`, which is the last member's key when the source has no member of that name and
  // nothing nested (inside a JSON string that text would have escaped quotes). Any other layout
  // takes the general scanner.
  const keys = Object.keys(meta);
  const n = keys.length;
  if (
    keys[n - 1] === "source" &&
    keys[n - 2] === "input" &&
    flatWithoutSource(meta.source) &&
    metaLine.charCodeAt(metaLine.length - 1) === 0x7d
  ) {
    const start = metaLine.indexOf(INPUT_KEY);
    const end = metaLine.lastIndexOf(SOURCE_KEY);
    if (start >= 0 && end > start + INPUT_KEY.length) {
      return {
        input: metaLine.slice(start + INPUT_KEY.length, end),
        source: metaLine.slice(end + SOURCE_KEY.length, -1),
      };
    }
  }
  return { input: memberJson(metaLine, INPUT), source: memberJson(metaLine, SOURCE) };
}

function flatWithoutSource(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return true;
  for (const key in value) {
    const member = (value as Record<string, unknown>)[key];
    if (key === "source" || (typeof member === "object" && member !== null)) return false;
  }
  return true;
}

interface Target {
  id: string;
  input: Record<string, unknown>;
  /** the JSON text of `input` and `source` */
  inputJson: string | undefined;
  sourceJson: string | undefined;
  source: RecordPosition;
}

function* targets(
  id: string,
  meta: RequestMeta,
  metaLine: string,
  fanout: Map<string, FanoutRow[]>,
): Generator<Target> {
  const json = metaJson(metaLine, meta);
  yield { id, input: meta.input, inputJson: json.input, source: meta.source, sourceJson: json.source };
  // identical requests point at the root-shard index of the request that was sent
  for (const row of fanout.get(String(meta.r)) ?? []) {
    yield {
      id: row.recordId,
      input: JSON.parse(row.input),
      inputJson: row.input,
      sourceJson: row.source,
      source: JSON.parse(row.source),
    };
  }
}

interface MetaEntry {
  index: number;
  /** read from disk on demand: the inputs of a 50,000-request shard stay out of memory */
  readonly line: string;
}

/** custom_id → where its meta line is in the meta file */
class MetaIndex {
  private readonly ids = new Map<string, number>();
  private readonly offsets: number[] = [];
  private readonly lengths: number[] = [];
  private fd: number | undefined;

  private constructor(private readonly file: string) {}

  static async load(file: string): Promise<MetaIndex> {
    const index = new MetaIndex(file);
    let offset = 0;
    for await (const line of lines(fs.createReadStream(file))) {
      const length = Buffer.byteLength(line);
      if (line !== "") {
        // the id is the first field: no need to parse the input here
        const id = (JSON.parse(`${line.slice(0, line.indexOf(',"t":'))}}`) as { id: string }).id;
        index.ids.set(id, index.offsets.length);
        index.offsets.push(offset);
        index.lengths.push(length);
      }
      offset += length + 1;
    }
    return index;
  }

  get size(): number {
    return this.offsets.length;
  }

  get(id: string): MetaEntry | undefined {
    const i = this.ids.get(id);
    return i === undefined ? undefined : this.entry(i);
  }

  *entries(): Generator<[string, MetaEntry]> {
    for (const [id, i] of this.ids) yield [id, this.entry(i)];
  }

  line(i: number): string {
    this.fd ??= fs.openSync(this.file, "r");
    const buffer = Buffer.allocUnsafe(this.lengths[i]!);
    fs.readSync(this.fd, buffer, 0, buffer.length, this.offsets[i]!);
    return buffer.toString("utf8");
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private entry(i: number): MetaEntry {
    const self = this;
    return {
      index: i,
      get line() {
        return self.line(i);
      },
    };
  }
}

async function writeRetryShard(
  options: CollectOptions,
  metas: MetaIndex,
  retry: Set<number>,
): Promise<ShardRow> {
  const { shard, stateDir } = options;
  const attempt = shard.attempt + 1;
  const name = retryShardName(shard.root, attempt);
  const base = path.join(path.dirname(shard.file), name);
  const file = `${base}.jsonl`;
  const metaFile = `${base}.meta.jsonl`;
  const requests = new SyncWriter(path.join(stateDir, file));
  const metaOut = new SyncWriter(path.join(stateDir, metaFile));
  let tokens = 0;
  let outputTokens = 0;
  let bytes = 0;
  let index = 0;
  for await (const line of lines(fs.createReadStream(path.join(stateDir, shard.file)))) {
    if (line === "") continue;
    const i = index++;
    if (!retry.has(i)) continue;
    const meta = metas.line(i);
    requests.write(`${line}\n`);
    metaOut.write(`${meta}\n`);
    bytes += Buffer.byteLength(line) + 1;
    const parsed = JSON.parse(meta) as RequestMeta;
    tokens += parsed.t;
    outputTokens += parsed.o;
  }
  requests.close();
  metaOut.close();
  return {
    ...shard,
    name,
    seq: shard.seq,
    attempt,
    file,
    metaFile,
    requests: retry.size,
    bytes,
    tokens,
    outputTokens,
    status: "pending",
    submission: 0,
    fileId: null,
    batchId: null,
    batchStatus: null,
    createdAt: null,
    note: null,
  };
}

function lines(stream: Readable): AsyncIterable<string> {
  return readline.createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
}
