/**
 * What the read loop's plugins throw, and what a failed read leaves behind. The source and the
 * transform are called through guards that name the plugin in the error; a failed read keeps its
 * state (to resume from the last checkpoint) or not, and the error says which.
 */
import { BatchpipeError, ErrorCodes, isBatchpipeError } from "../../errors.js";
import type { RequestLine, SourceItem, SourceRecord } from "../../plugin.js";
import {
  checkCursor,
  checkRequest,
  checkSourceItem,
  checkSourceItems,
  describeValue,
  PLUGIN_API,
} from "../../plugins/contract.js";

/** How a failed read phase leaves the state: kept to resume at record `resumeAt`, or not. */
export interface ReadFailure {
  keep: boolean;
  resumeAt: number;
}

/** what the read phase decided about the state when it threw `error` (undefined: not its error) */
export function readFailure(error: unknown): ReadFailure | undefined {
  return error !== null && typeof error === "object" ? readFailures.get(error) : undefined;
}

const readFailures = new WeakMap<object, ReadFailure>();

/** Decide what a failed read keeps; returns the error to throw (a source's says where reading resumes). */
export function failedRead(
  error: unknown,
  o: {
    /** the caller keeps the state of a failed read (false: the source restarted instead of resuming) */
    resumable: boolean;
    /** records the last committed checkpoint covers, and whether the source can resume there */
    recorded: number;
    recordedCursor: boolean;
    /** the transform's label once it was created (its failures are not resumed) */
    transform: string | undefined;
    /** this attempt continued a checkpoint and the source yielded nothing */
    resumedWithoutRecord: boolean;
  },
): unknown {
  const fromSource = sourceErrors.has(error as object);
  const fromTransform =
    isBatchpipeError(error) &&
    (error.code === ErrorCodes.PLUGIN_FAILED || error.code === ErrorCodes.PLUGIN_INVALID) &&
    o.transform !== undefined &&
    error.plugin === o.transform;
  const keep =
    o.resumable &&
    o.recorded > 0 &&
    o.recordedCursor &&
    !(isBatchpipeError(error) && error.code === ErrorCodes.DUPLICATE_ID) &&
    !fromTransform &&
    // a source that cannot even start from its cursor: the next run reads from the start
    !(fromSource && o.resumedWithoutRecord);
  const failure: ReadFailure = { keep, resumeAt: keep ? o.recorded + 1 : 1 };
  const out = fromSource ? sourceFailure(error as BatchpipeError, failure, NONE_SUBMITTED) : error;
  if (out !== null && typeof out === "object") readFailures.set(out, failure);
  if (fromSource) sourceFailures.set(out as object, error as BatchpipeError);
  return out;
}

/**
 * A failed read's error once the caller knows what the run loop submitted meanwhile (streaming
 * submission): a source's error then says how many shards (and requests) are at the provider.
 */
export function withSubmitted(error: unknown, submitted: { shards: number; requests: number }): unknown {
  const source = error !== null && typeof error === "object" ? sourceFailures.get(error) : undefined;
  const failure = readFailure(error);
  if (!source || !failure || submitted.shards === 0) return error;
  const out = sourceFailure(source, failure, submitted);
  readFailures.set(out, failure);
  return out;
}

/**
 * A failed read's error as the source gave it, without what a run would resume (`batchpipe plan`
 * reads into a throwaway folder and submits nothing: it has no run to continue).
 */
export function withoutResume(error: unknown): unknown {
  return (error !== null && typeof error === "object" && sourceFailures.get(error)) || error;
}

export function interrupted(): BatchpipeError {
  return new BatchpipeError(ErrorCodes.INTERRUPTED, "interrupted; the state is saved", {
    hint: "Run the same command again to resume.",
  });
}

/** a source that throws something other than a BatchpipeError fails as PLUGIN_FAILED naming it */
export function guardSource(items: AsyncIterable<SourceItem>, label: string): AsyncIterable<SourceItem> {
  const wrap = (error: unknown) => {
    // the run's signal stopped a source that waits for input (a pipe): the run was interrupted
    if ((error as { name?: unknown })?.name === "AbortError") return interrupted();
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
      // a read() that returns a list (or a promise of one) is named here, not in a TypeError
      let it: AsyncIterator<SourceItem>;
      try {
        it = checkSourceItems(items, label)[Symbol.asyncIterator]();
      } catch (caught) {
        const error = wrap(caught);
        return {
          next: () => Promise.reject(error),
          return: (value?: unknown) => Promise.resolve({ done: true as const, value }),
        };
      }
      // the first record's cursor is checked (a source gives them all one shape), the others at
      // each read checkpoint (read-phase.ts): not once per record
      let first = true;
      return {
        next: () =>
          it
            .next()
            .then((result) => {
              // a source that yields the wrong shape is named here, not in a TypeError further on
              if (!result.done) {
                checkSourceItem(result.value, label);
                if (first) checkCursor(result.value, label);
                first = false;
              }
              return result;
            })
            .catch((error: unknown) => {
              throw wrap(error);
            }),
        return: (value?: unknown) => it.return?.(value) ?? Promise.resolve({ done: true, value: undefined }),
      };
    },
  };
}

/**
 * The transform's request for a record, or the BatchpipeError it threw for that record (a failure
 * row). Anything else it throws fails the read as PLUGIN_FAILED.
 */
export function toRequest(
  transform: { toRequest(record: SourceRecord): RequestLine },
  record: SourceRecord,
  label: string,
): RequestLine | BatchpipeError {
  let request: RequestLine;
  try {
    request = transform.toRequest(record);
  } catch (error) {
    if (isBatchpipeError(error)) return error;
    throw new BatchpipeError(
      ErrorCodes.PLUGIN_FAILED,
      `${label} failed in toRequest() on the record at ${at(record)}: it threw ${thrown(error)}`,
      {
        hint: `For a record it cannot turn into a request, toRequest() throws a BatchpipeError (new BatchpipeError(code, message) from ${PLUGIN_API}): that record becomes a failure row and the run goes on; anything else it throws stops the run. Fix the transform and run again.`,
        plugin: label,
        cause: error,
      },
    );
  }
  checkRequest(request, record, label);
  // a request whose fields are wrong fails its record (they may come from the record's data)
  const { custom_id: id, url, body } = request;
  if (typeof id !== "string" || id.length === 0) {
    return new BatchpipeError(
      "invalid_request",
      `${label} returned a request whose custom_id is ${id === "" ? "empty" : describeValue(id)} for the record at ${at(record)}: return { custom_id, url, body } with custom_id a non-empty string (the record's id)`,
    );
  }
  if (typeof url !== "string" || typeof body !== "object" || body === null || Array.isArray(body)) {
    const what = typeof url !== "string" ? `url is ${describeValue(url)}` : `body is ${describeValue(body)}`;
    return new BatchpipeError(
      "invalid_request",
      `${label} returned a request whose ${what} for the record at ${at(record)}: return { custom_id, url, body } with url the endpoint's path (e.g. "/v1/chat/completions") and body an object (e.g. { model, messages })`,
      { recordId: id },
    );
  }
  return request;
}

/** errors thrown by the source (wrapped by guardSource) */
const sourceErrors = new WeakSet<object>();
/** failedRead's error for a source's → the source's (withSubmitted words it again) */
const sourceFailures = new WeakMap<object, BatchpipeError>();
const NONE_SUBMITTED = { shards: 0, requests: 0 };

const SOURCE_HINT = "Fix the source's problem and run again.";

function at(record: SourceRecord): string {
  return `${record.position.file}:${record.position.line}`;
}

/** what a plugin threw, as a message shows it: "TypeError: boom", "a string (\"boom\")" */
function thrown(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : describeValue(error);
}

/**
 * a source's error with a hint that says where the next run reads from and what was submitted
 * (the run loop submits shards while the source is read)
 */
function sourceFailure(
  error: BatchpipeError,
  failure: ReadFailure,
  submitted: { shards: number; requests: number },
): BatchpipeError {
  const wrapped = error.code === ErrorCodes.PLUGIN_FAILED && error.hint === SOURCE_HINT;
  const sent =
    submitted.shards === 0
      ? "nothing was submitted"
      : `${plural(submitted.shards, "shard")} (${plural(submitted.requests, "request")}) read before it ${submitted.shards === 1 ? "was" : "were"} already submitted and ${submitted.shards === 1 ? "goes" : "go"} on at the provider`;
  const where = failure.keep
    ? `reading resumes at record ${fmt(failure.resumeAt)} (${sent}; the ${plural(failure.resumeAt - 1, "record")} before it are kept).`
    : submitted.shards === 0
      ? "nothing was submitted, the read starts over."
      : `${sent}, so the run's state is kept and the next run continues it.`;
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

function plural(n: number, word: string): string {
  return `${fmt(n)} ${word}${n === 1 ? "" : "s"}`;
}

/** a count in a message: 12,345 (as the CLI's) */
export function fmt(n: number): string {
  return n.toLocaleString("en-US");
}
