/**
 * `validate` renders the first record through the transform: a template that names a field the
 * records do not have fails on every record, and is better reported at its place in the spec than
 * as a failure row per record after the run.
 */
import { isBatchpipeError } from "../errors.js";
import { checkLimits, limitsFor, limitsTableFor, OUTPUT_KEYS } from "../estimate/limits.js";
import { isStreamInput } from "../input-files.js";
import { type InvalidRecord, isInvalidRecord, type SourceRecord, silentLogger } from "../plugin.js";
import {
  callPlugin,
  checkRequest,
  checkSourceItem,
  checkSourceItems,
  createTransform,
  namePluginError,
} from "../plugins/contract.js";
import type { SpecIssue } from "./issues.js";
import { type Pipeline, specTextOf } from "./load.js";
import { locateIssues, specError, toDotPath } from "./locate.js";

/** what checkFirstRecord found before the first record it could render */
export interface FirstRecordCheck {
  /** a readable record was found (or the source, a pipe, was not sampled) */
  found: boolean;
  /** records the source could not parse, before the first readable one (all of them when none) */
  invalid: number;
  /** the first of those */
  firstInvalid?: InvalidRecord;
}

/**
 * Throws SPEC_INVALID when the first record fails to render. A source that reads a pipe or standard
 * input is not sampled (found): its data can be read only once, by the run, and opening a pipe
 * waits for a writer.
 */
export async function checkFirstRecord(
  pipeline: Pipeline,
  options: { signal?: AbortSignal } = {},
): Promise<FirstRecordCheck> {
  if (readsStream(pipeline)) return { found: true, invalid: 0 };
  const signal = options.signal ?? new AbortController().signal;
  const scan = await callPlugin(
    pipeline.source.label,
    "reading the first record",
    () => firstRecord(pipeline, signal),
    VALIDATE_HINT,
  );
  const { record } = scan;
  if (!record) return scan;
  const { transform } = pipeline;
  const handle = await createTransform(
    transform,
    { resolvePath: pipeline.resolvePath, logger: silentLogger, signal },
    VALIDATE_HINT,
  );
  let request: ReturnType<typeof handle.toRequest>;
  try {
    request = handle.toRequest(record);
  } catch (error) {
    if (!isBatchpipeError(error)) throw namePluginError(transform.label, "toRequest", error, VALIDATE_HINT);
    const option = (error as { option?: unknown }).option;
    const where = Array.isArray(option) ? toDotPath(option) : "";
    // the issue is shown at the template: the message need not say which one, nor the record twice
    const what = error.message
      .replace(/ \(record at [^)]*\)$/, "")
      .replace(` in ${where}`, "")
      .replace(`${where} failed`, "failed");
    const issue: SpecIssue = {
      path: Array.isArray(option) ? [...transform.path, ...option] : transform.path,
      message: `${what}: the first record (${record.position.file}:${record.position.line}) fails to render, so the others probably do too`,
      hint: error.hint,
    };
    const name = pipeline.file ?? "the pipeline spec";
    throw specError(locateIssues([issue], specTextOf(pipeline), pipeline.file), name);
  }
  checkRequest(request, record, transform.label);
  // a malformed request (no body) is the run's invalid_request failure, not checked here
  if (isObject(request.body)) checkOutputLimit(pipeline, request.body, record);
  return scan;
}

/**
 * The first record's max_tokens over its model's output limit (estimate/limits.ts): every record
 * would fail as max_tokens_too_large when max_tokens is the spec's, so it is shown at its place.
 */
function checkOutputLimit(pipeline: Pipeline, body: Record<string, unknown>, record: SourceRecord): void {
  const model = typeof body.model === "string" ? body.model : "";
  const limits = limitsFor(model, limitsTableFor(pipeline.spec.model_limits));
  const problem = limits && checkLimits(model, limits, { inputTokens: 0, body });
  if (!problem?.fail) return;
  const { transform } = pipeline;
  const options = transform.options as { body?: Record<string, unknown> } | undefined;
  const key = OUTPUT_KEYS.find((k) => options?.body?.[k] !== undefined);
  const issue: SpecIssue = {
    path: key ? [...transform.path, "body", key] : transform.path,
    message: `${problem.message} (the first record, ${record.position.file}:${record.position.line}, asks for it: the others probably do too)`,
  };
  throw specError(
    locateIssues([issue], specTextOf(pipeline), pipeline.file),
    pipeline.file ?? "the pipeline spec",
  );
}

/** the first readable record; records the source cannot parse are counted (the run reports them) */
async function firstRecord(
  pipeline: Pipeline,
  signal: AbortSignal,
): Promise<FirstRecordCheck & { record?: SourceRecord }> {
  const { source } = pipeline;
  const items = checkSourceItems(
    source.plugin.read({
      options: source.options,
      resolvePath: pipeline.resolvePath,
      logger: silentLogger,
      signal,
      checkpoint: undefined,
    }),
    source.label,
  );
  let invalid = 0;
  let firstInvalid: InvalidRecord | undefined;
  for await (const item of items) {
    const checked = checkSourceItem(item, source.label);
    if (!isInvalidRecord(checked)) return { found: true, invalid, firstInvalid, record: checked };
    invalid++;
    firstInvalid ??= checked;
  }
  return { found: false, invalid, firstInvalid };
}

/** whether the source declares (in its pure `check`) a read of standard input or a named pipe */
function readsStream(pipeline: Pipeline): boolean {
  const { source } = pipeline;
  try {
    const answer = source.plugin.check?.({
      options: source.options,
      resolvePath: pipeline.resolvePath,
      env: {},
    });
    return (answer?.reads ?? []).some((read) => isStreamInput(read.path));
  } catch {
    // checkPipeline reports a check() that throws
    return false;
  }
}

const VALIDATE_HINT = "Fix the plugin's problem and validate again.";

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
