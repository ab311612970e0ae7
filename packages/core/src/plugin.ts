/**
 * The public plugin API: `import { defineSink, z } from "@batchpipe/core/plugin"`.
 * The definers are identity functions; they exist for type inference (unjs style).
 */
import { z } from "zod";

export { BatchpipeError, ErrorCodes } from "./errors.js";
export { parseJsonExact } from "./exact-json.js";
export {
  checkInputPath,
  gzipFailure,
  isGlobPath,
  isGzipFile,
  isStreamInput,
  openInputFile,
  type ResolveInputFilesOptions,
  resolveInputFiles,
  STDIN_PATH,
} from "./input-files.js";
export { checkFileCursor, stampFileCursor } from "./input-sample.js";
export { makeOutputFolder } from "./make-dirs.js";
export type {
  BatchEnding,
  BatchRef,
  BatchSnapshot,
  CutReason,
  EncodedRequest,
  FindOptions,
  LiveResult,
  OutputRequest,
  OutputResult,
  ProviderConnection,
  ProviderContext,
  ProviderLimits,
  ResultItem,
  ShardSubmission,
  SubmissionTag,
  SubmitOptions,
  SubmitResult,
} from "./provider/contract.js";
export { baseUrlOrigin, liveFailure, redactedResult, tagKey } from "./provider/contract.js";
export {
  type CallFailure,
  DEFAULT_RETRY_POLICY,
  describeFailure,
  isAmbiguous,
  isRetryable,
  isUnreachable,
  keyRedactor,
  ProviderError,
  type RetryContext,
  type RetryInfo,
  type RetryPolicy,
  retryDelay,
  retryOptions,
  retryPolicy,
  statusOf,
  withRetries,
} from "./provider/http-retry.js";
export { idleBody } from "./provider/idle-body.js";
export {
  ALL_COLUMNS,
  type Column,
  type ColumnKind,
  type ColumnsOption,
  columnsOption,
  compileColumns,
  compileFields,
  DEFAULT_COLUMNS,
  DEFAULT_SUCCESS_FIELDS,
  type FieldsOption,
  fieldsOption,
  isDefaultColumns,
  type ProjectionHooks,
  ROW_FIELDS,
  type RowProjector,
  unwrittenColumnsWarning,
} from "./rows/projection.js";
export { cannotResume, type FilesBefore, invalidInput, invalidInputError } from "./source-items.js";
export { refuseUtf16 } from "./text-encoding.js";
/** the symlink policy of sources and watch mode (a listed file counts if its real path stays inside) */
export { globRoot, staysInside } from "./watch/links.js";
export { z };

import type {
  EncodedRequest,
  OutputRequest,
  OutputResult,
  ProviderConnection,
  ProviderContext,
  ProviderLimits,
} from "./provider/contract.js";

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** An opaque, JSON-serialisable position a plugin hands back and later receives to resume from. */
export type Checkpoint = JsonValue;

export interface Logger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

/** a Logger that drops everything */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Where a record came from: for error messages, watch-mode provenance and resume. */
export interface RecordPosition {
  /** the source file (absolute path) or another locator the source chooses */
  file: string;
  /** 1-based line (or record number) */
  line: number;
}

/** A record read from a source. */
export interface SourceRecord {
  data: Record<string, unknown>;
  position: RecordPosition;
  /** pass back as `checkpoint` to `read` to resume *after* this record */
  cursor: Checkpoint;
}

/** A record the source could not parse: it becomes an `invalid_input` failure row; the run goes on. */
export interface InvalidRecord {
  invalid: { code: "invalid_input" | (string & {}); message: string };
  position: RecordPosition;
  cursor: Checkpoint;
}

export type SourceItem = SourceRecord | InvalidRecord;

export function isInvalidRecord(item: SourceItem): item is InvalidRecord {
  return "invalid" in item;
}

/** One line of a batch input file (OpenAI's format), before `method` is added. */
export interface RequestLine {
  custom_id: string;
  url: string;
  body: Record<string, unknown>;
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  /** input tokens read from a prompt cache (part of input_tokens) */
  cached_tokens?: number;
  /** input tokens written to a prompt cache (part of input_tokens; Anthropic bills them above the input price) */
  cache_creation_tokens?: number;
  /** of cache_creation_tokens, those written for an hour (Anthropic bills them at 2x the input price); absent: none */
  cache_creation_1h_tokens?: number;
  reasoning_tokens?: number;
}

/** What reaches the sinks for a success (DESIGN §1). */
export interface SuccessRow {
  id: string;
  status: "success";
  /** the convenient part: chat content (parsed JSON under a json_schema), embedding vector, responses output text */
  output: unknown;
  /** the whole response body */
  response: unknown;
  usage: Usage | null;
  model: string | null;
  batch_id: string | null;
  attempts: number;
  input: Record<string, unknown>;
  /** where the record came from */
  source: RecordPosition;
}

/** What reaches the error sinks for a final failure. */
export interface FailureRow {
  id: string;
  status: "failed";
  error: { code: string; message: string; status_code: number | null };
  attempts: number;
  batch_id: string | null;
  input: Record<string, unknown> | null;
  source: RecordPosition;
}

export type ResultRow = SuccessRow | FailureRow;

/** Handed to every plugin hook. */
export interface PluginContext<O> {
  /** the plugin's options, already validated by its schema (defaults applied) */
  options: O;
  /** resolve a path relative to the spec file's folder */
  resolvePath(path: string): string;
  logger: Logger;
  signal: AbortSignal;
}

export interface SourceContext<O> extends PluginContext<O> {
  /** the `cursor` of the last record already handled, or undefined to start from the beginning */
  checkpoint: Checkpoint | undefined;
}

export interface SinkContext<O> extends PluginContext<O> {
  /** the checkpoint returned by the last `commit` the engine recorded; undefined for a fresh sink */
  checkpoint: Checkpoint | undefined;
}

export interface SinkHandle {
  /** buffer or write rows; they become durable only at `commit` */
  write(rows: readonly ResultRow[]): Promise<void>;
  /**
   * Make everything written so far durable and return the new checkpoint. `key` names the unit of
   * delivery (a shard attempt); a sink that stores it in the same transaction can answer `committed`.
   */
  commit(key: string): Promise<Checkpoint>;
  /** optional: whether the delivery `key` was already committed (for sinks that record it atomically) */
  committed?(key: string): Promise<boolean>;
  /**
   * Optional, for sinks that keep rows across runs (upsert by id): records of this delivery your
   * rows of earlier runs are stale for. Drop the rows you hold for them. A result sink is given the
   * records whose request failed, at the provider or before it was sent (an earlier success, whose
   * changed request or template now fails), an `errors` sink those that succeeded (an earlier
   * failure, now fixed). Durable with the next `commit`, like `write`. Never given an id a record of
   * the same run succeeds under (a duplicate_id shares its id with its first occurrence).
   */
  forget?(ids: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export interface TransformHandle {
  /** build the request for a record; throw a BatchpipeError (e.g. code `template_error`) to fail this record only */
  toRequest(record: SourceRecord): RequestLine;
}

/** A file or folder a plugin reads or writes, as its `check` hook declares it. */
export interface PluginPath {
  /** absolute: made with `ctx.resolvePath`; for a read, `-` is standard input (STDIN_PATH) */
  path: string;
  /** the option that holds it: a problem with the path points at this key of the spec entry */
  option: string;
  /** for writes: the part of the file the plugin owns alone (a SQLite table); writers of different parts may share a file */
  part?: string;
  /** for reads: `path` is a glob, which must match a file (watch mode, which waits for files, lets it match none) */
  glob?: boolean;
}

/**
 * Something other than a file a plugin writes (a table on a database server), as its `check` hook
 * declares it. Two declarations clash when their `target`s are equal strings (and their `part`s,
 * when both have one): batchpipe cannot resolve a server's name, so the plugin names it the one way
 * every writer of it would, e.g. `postgres://host:5432/database` with the host in lower case and
 * the defaults filled in.
 */
export interface PluginTarget {
  /** the target without credentials (it is shown in messages), e.g. `postgres://db.internal:5432/app` */
  target: string;
  /** the option that holds it: a clash points at this key of the spec entry */
  option: string;
  /** the part the plugin owns alone (a table, e.g. `public.results`); writers of different parts may share a target */
  part?: string;
}

/** A problem a plugin sees in its options before anything runs. */
export interface PluginProblem {
  message: string;
  /** the option it concerns (the spec entry itself when left out) */
  option?: string;
  /** what to do */
  hint?: string;
}

/**
 * What `check` answers. The engine does the I/O: every `reads` path must exist, every `writes`
 * path's folder must be writable, no two plugins write the same file (or part), and no plugin
 * writes what another reads or what the state folder holds. No two plugins may write the same
 * `targets` entry (or part) either.
 */
export interface PluginCheck {
  reads?: PluginPath[];
  writes?: PluginPath[];
  /** what the plugin writes that is not a file (a database table) */
  targets?: PluginTarget[];
  problems?: PluginProblem[];
}

export interface CheckContext<O> {
  /** the plugin's options, validated by its schema (defaults applied) */
  options: O;
  resolvePath(path: string): string;
  /** the environment the run will get (a provider checks its key here) */
  env: Record<string, string | undefined>;
}

/**
 * The optional `check` hook, on every plugin kind: pure (no I/O, no network), called by
 * `batchpipe validate` and before `run` reads a record, so a wrong path or a missing key is
 * reported at once, at its place in the spec.
 */
export interface Checkable<O> {
  check?(ctx: CheckContext<O>): PluginCheck;
}

// biome-ignore lint/suspicious/noExplicitAny: plugin option schemas are arbitrary zod types
type AnySchema = z.ZodType<any, any>;

export interface SourcePlugin<S extends AnySchema = AnySchema> extends Checkable<z.output<S>> {
  kind: "source";
  name: string;
  options: S;
  read(ctx: SourceContext<z.output<S>>): AsyncIterable<SourceItem>;
  /**
   * Optional: the endings, in lower case, of the data files it reads from a folder `path`
   * (`[".csv", ".csv.gz"]`; a name matches in any case). `batchpipe watch` on a folder takes those
   * files; without it, a watched folder's `*.jsonl` and `*.jsonl.gz` files.
   */
  extensions?: readonly string[];
  /**
   * Optional: the cursor a read checkpoint records, given the last record's (e.g. with a sample of
   * the file's bytes before it, which `read` checks when it resumes). Called once per checkpoint,
   * never per record; without it the record's cursor is recorded as it is.
   */
  stampCursor?(cursor: Checkpoint): Promise<Checkpoint>;
}

export interface TransformPlugin<S extends AnySchema = AnySchema> extends Checkable<z.output<S>> {
  kind: "transform";
  name: string;
  options: S;
  create(ctx: PluginContext<z.output<S>>): TransformHandle | Promise<TransformHandle>;
}

export interface SinkPlugin<S extends AnySchema = AnySchema> extends Checkable<z.output<S>> {
  kind: "sink";
  name: string;
  options: S;
  open(ctx: SinkContext<z.output<S>>): Promise<SinkHandle>;
}

/**
 * A batch API (DESIGN §2, provider/contract.ts). `limits`, `encode` and `output` are pure (used by
 * `plan` and the read phase without I/O); `open` connects for a run.
 */
export interface ProviderPlugin<S extends AnySchema = AnySchema> extends Checkable<z.output<S>> {
  kind: "provider";
  name: string;
  options: S;
  limits(options: z.output<S>): ProviderLimits;
  encode(request: RequestLine, options: z.output<S>): EncodedRequest;
  /** the convenient part of a success's response (DESIGN §1), or why it cannot be had */
  output(response: Record<string, unknown>, request: OutputRequest): OutputResult;
  /**
   * Optional, pure: which service answers, for a plugin whose options (or the environment they
   * fall back on) can point it at more than one, e.g. an OpenAI-compatible API's base URL. The
   * result cache answers a request only with a result from the same origin. Undefined (or no
   * method): the plugin's own service, known by its name.
   */
  origin?(options: z.output<S>, env: Record<string, string | undefined>): string | undefined;
  /**
   * Optional, pure: the `batch.completion_window` values the service accepts (OpenAI's Batch API:
   * only "24h"), checked when the spec loads, so a window the service would refuse is a spec error
   * at its place rather than an HTTP 400 after the read and the upload. Undefined (or no method):
   * the window is passed on for the service to judge (an OpenAI-compatible server may accept others).
   */
  completionWindows?(
    options: z.output<S>,
    env: Record<string, string | undefined>,
  ): readonly string[] | undefined;
  open(ctx: ProviderContext<z.output<S>>): Promise<ProviderConnection>;
}

export type Plugin = SourcePlugin | TransformPlugin | SinkPlugin | ProviderPlugin;
export type PluginKind = Plugin["kind"];

export function defineSource<S extends AnySchema>(plugin: Omit<SourcePlugin<S>, "kind">): SourcePlugin<S> {
  return { kind: "source", ...plugin };
}

export function defineTransform<S extends AnySchema>(
  plugin: Omit<TransformPlugin<S>, "kind">,
): TransformPlugin<S> {
  return { kind: "transform", ...plugin };
}

export function defineProvider<S extends AnySchema>(
  plugin: Omit<ProviderPlugin<S>, "kind">,
): ProviderPlugin<S> {
  return { kind: "provider", ...plugin };
}

export function defineSink<S extends AnySchema>(plugin: Omit<SinkPlugin<S>, "kind">): SinkPlugin<S> {
  return { kind: "sink", ...plugin };
}
