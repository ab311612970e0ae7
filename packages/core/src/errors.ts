/**
 * The one error class of batchpipe. Library code throws it (or returns it as data for per-record
 * failures); only the CLI renders it. Codes are permanent: users grep for them and docs link them.
 */
export const ErrorCodes = {
  /** the spec file has a problem (YAML syntax, schema, env var); `loc` points at it */
  SPEC_INVALID: "SPEC_INVALID",
  /** a plugin could not be found, loaded, or has the wrong shape */
  PLUGIN_NOT_FOUND: "PLUGIN_NOT_FOUND",
  PLUGIN_INVALID: "PLUGIN_INVALID",
  /** a plugin threw or timed out while running */
  PLUGIN_FAILED: "PLUGIN_FAILED",
  /** the source data cannot be read at all (not a per-record problem) */
  SOURCE_FAILED: "SOURCE_FAILED",
  /** two records produced the same custom_id */
  DUPLICATE_ID: "DUPLICATE_ID",
  /** the provider refused or failed in a way retries could not fix */
  PROVIDER_FAILED: "PROVIDER_FAILED",
  /**
   * the provider could not be reached (refused, DNS, TLS) or refused the key before anything was
   * submitted, or stayed unreachable longer than batch.max_outage; the state is saved
   */
  PROVIDER_UNREACHABLE: "PROVIDER_UNREACHABLE",
  /**
   * a shard is bigger than the provider's queue allows (refused with nothing else of the run in
   * flight): waiting cannot help; smaller shards (batch.max_enqueued_tokens / max_requests) can
   */
  QUEUE_TOO_SMALL: "QUEUE_TOO_SMALL",
  /** the state database is locked, corrupt or from an incompatible version */
  STATE_FAILED: "STATE_FAILED",
  /**
   * the state is new (lost or emptied) but the provider has batches tagged with this pipeline's
   * name: running would pay again for work already submitted (run with --force to do it anyway)
   */
  STATE_LOST: "STATE_LOST",
  /**
   * a problem of the machine, not of batchpipe: a full disk, permissions, a read-only file system
   * (the `--json` error event has the OS or SQLite code as `errno`); fix it and run again to resume
   */
  SYSTEM: "SYSTEM",
  /** command-line usage problem */
  USAGE: "USAGE",
  /** the run would exceed batch.max_cost */
  BUDGET_EXCEEDED: "BUDGET_EXCEEDED",
  /** interrupted by a signal; the state is saved */
  INTERRUPTED: "INTERRUPTED",
  /** a `notify:` webhook or command did not take the run's end report (a warning: the run's outcome stands) */
  NOTIFY_FAILED: "NOTIFY_FAILED",
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** A place in a file: 1-based line and column. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

export interface BatchpipeErrorOptions {
  /** what to do about it, one sentence */
  hint?: string;
  loc?: SourceLocation;
  /** the record or request id concerned */
  recordId?: string;
  /** the plugin concerned (its `use` value or name) */
  plugin?: string;
  /** further problems reported with this one (e.g. every spec error at once) */
  details?: BatchpipeError[];
  cause?: unknown;
}

export class BatchpipeError extends Error {
  override name = "BatchpipeError";
  readonly code: string;
  readonly hint?: string;
  readonly loc?: SourceLocation;
  readonly recordId?: string;
  readonly plugin?: string;
  readonly details?: BatchpipeError[];

  constructor(code: string, message: string, options: BatchpipeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.loc = options.loc;
    this.recordId = options.recordId;
    this.plugin = options.plugin;
    this.details = options.details;
  }
}

/** by shape too: a plugin may throw the BatchpipeError of its own copy of core */
export function isBatchpipeError(error: unknown): error is BatchpipeError {
  return (
    error instanceof BatchpipeError ||
    (error instanceof Error &&
      error.name === "BatchpipeError" &&
      typeof (error as { code?: unknown }).code === "string")
  );
}

/** the code of an error that is neither a BatchpipeError nor the machine's: a bug */
export const UNEXPECTED = "UNEXPECTED";

/** how an error is named to a script: the `--json` error event, `status`'s stop reason, `notify` */
export interface ErrorSummary {
  code: string;
  message: string;
  hint?: string;
  /**
   * the OS or SQLite error code of a problem of the machine: always with SYSTEM, and with another
   * code when the machine's problem is its cause (a sink's write or the cache's store on a full disk)
   */
  errno?: string;
}

/**
 * A BatchpipeError's code, message and hint (and the errno of a machine problem among its causes);
 * the machine's problem as SYSTEM; anything else UNEXPECTED.
 */
export function summarizeError(error: unknown): ErrorSummary {
  if (isBatchpipeError(error)) {
    const errno = systemErrno(error.cause);
    return {
      code: error.code,
      message: error.message,
      ...(error.hint ? { hint: error.hint } : {}),
      ...(errno ? { errno } : {}),
    };
  }
  return systemError(error) ?? { code: UNEXPECTED, message: errorMessage(error) };
}

/** the errno of the first machine problem in a chain of causes */
function systemErrno(cause: unknown, depth = 0): string | undefined {
  if (cause === undefined || cause === null || depth > 8) return undefined;
  return systemError(cause)?.errno ?? systemErrno((cause as { cause?: unknown }).cause, depth + 1);
}

/**
 * A problem of the machine (a full disk, permissions), not a bug: said as such, with how to go on.
 * Undefined for anything else, BatchpipeErrors included (they say more).
 */
export function systemError(error: unknown): Required<ErrorSummary> | undefined {
  if (isBatchpipeError(error)) return undefined;
  const errno = (error as { code?: unknown } | null)?.code;
  if (typeof errno !== "string") return undefined;
  const found = SYSTEM_PROBLEMS.find(([pattern]) => pattern.test(errno));
  if (!found) return undefined;
  return {
    code: ErrorCodes.SYSTEM,
    errno,
    message: `${found[1]} (${errno}): ${errorMessage(error)}`,
    hint: "fix it (free space, permissions, or move the state with --state-dir (from code: the stateDir option)) and run the same command again: the run resumes where it stopped",
  };
}

/** OS and SQLite error codes that name a problem of the machine */
const SYSTEM_PROBLEMS: [RegExp, string][] = [
  [/^(ENOSPC|SQLITE_FULL)$/, "the disk is full"],
  [/^EDQUOT$/, "the disk quota is exceeded"],
  [/^(EACCES|EPERM|SQLITE_PERM)$/, "permission denied"],
  [/^(EROFS|SQLITE_READONLY.*)$/, "the file system is read-only"],
  [/^(EIO|SQLITE_IOERR.*)$/, "the disk failed to read or write"],
  [/^(EMFILE|ENFILE)$/, "too many open files"],
  [/^ENOMEM$/, "out of memory"],
];

function errorMessage(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === "string" ? message : String(error);
}
