/**
 * Render anything a command threw: a BatchpipeError with its code, place, frame and hint; a problem
 * of the machine (full disk, permissions) as such; anything else as a short message with a "this is
 * a bug" hint (the stack only under --debug).
 */
import { readFileSync } from "node:fs";
import {
  type BatchpipeError,
  codeFrame,
  ErrorCodes,
  formatSpecError,
  isBatchpipeError,
} from "@batchpipe/core";
import { ExitCode } from "./exit-codes.js";

export interface RenderErrorOptions {
  color: boolean;
  debug: boolean;
  cwd: string;
}

export function renderError(error: unknown, options: RenderErrorOptions): string {
  if (isBatchpipeError(error)) {
    const withFrame =
      error.loc && !(error as { frame?: unknown }).frame && !error.details ? addFrame(error) : error;
    let text = formatSpecError(withFrame, { color: options.color, cwd: options.cwd });
    if (options.debug) text += causes(error);
    return text;
  }
  const system = systemError(error);
  if (system) {
    const lines = [`✖ ${system.message}`, `  hint: ${system.hint}`];
    if (options.debug && error instanceof Error && error.stack) lines.push("", error.stack);
    return lines.join("\n");
  }
  const message = error instanceof Error ? error.message : String(error);
  const lines = [`✖ unexpected error: ${message}`];
  lines.push("  hint: this is a bug in batchpipe or a plugin; please report it with the output of --debug");
  if (options.debug && error instanceof Error && error.stack) lines.push("", error.stack);
  return lines.join("\n");
}

/** The `--json` event of an error a command ends on (stdout; the rendered text still goes to stderr). */
export function errorEvent(error: unknown, usage = false): Record<string, unknown> {
  const exitCode = usage ? ExitCode.USAGE : exitCodeFor(error);
  if (!isBatchpipeError(error)) {
    const system = usage ? undefined : systemError(error);
    if (system) return { type: "error", ...system, exitCode };
    const message = error instanceof Error ? error.message : String(error);
    return { type: "error", code: usage ? ErrorCodes.USAGE : UNEXPECTED, message, exitCode };
  }
  const problems = error.details?.map((detail) => ({
    message: detail.message,
    path: (detail as { path?: string }).path,
    loc: detail.loc,
    hint: detail.hint,
  }));
  return {
    type: "error",
    code: error.code,
    message: error.message,
    ...(error.hint ? { hint: error.hint } : {}),
    ...(error.plugin ? { plugin: error.plugin } : {}),
    ...(error.loc ? { loc: error.loc } : {}),
    ...(problems ? { problems } : {}),
    exitCode,
  };
}

/**
 * 2 for what the user must fix before anything runs (the spec, the command line, a plugin, ids the
 * `id` template makes twice), 1 for everything else
 */
export function exitCodeFor(error: unknown): number {
  if (!isBatchpipeError(error)) return ExitCode.RUN_ERROR;
  const usage: string[] = [
    ErrorCodes.SPEC_INVALID,
    ErrorCodes.USAGE,
    ErrorCodes.PLUGIN_NOT_FOUND,
    ErrorCodes.PLUGIN_INVALID,
    ErrorCodes.DUPLICATE_ID,
  ];
  return usage.includes(error.code) ? ExitCode.USAGE : ExitCode.RUN_ERROR;
}

/** the code of an error that is neither a BatchpipeError nor the machine's: a bug */
export const UNEXPECTED = "UNEXPECTED";

/**
 * A problem of the machine (a full disk, permissions), not a bug: how the text, the `--json` error
 * event and `status` name it. Undefined for anything else, BatchpipeErrors included (they say more).
 */
export function systemError(
  error: unknown,
): { code: string; errno: string; message: string; hint: string } | undefined {
  if (isBatchpipeError(error)) return undefined;
  const problem = systemProblem(error);
  if (!problem) return undefined;
  const message = error instanceof Error ? error.message : String(error);
  return {
    code: ErrorCodes.SYSTEM,
    errno: problem.errno,
    message: `${problem.what} (${problem.errno}): ${message}`,
    hint: "fix it (free space, permissions, or move the state with --state-dir) and run the same command again: the run resumes where it stopped",
  };
}

// --- internal ---

const SYSTEM_PROBLEMS: [RegExp, string][] = [
  [/^(ENOSPC|SQLITE_FULL)$/, "the disk is full"],
  [/^EDQUOT$/, "the disk quota is exceeded"],
  [/^(EACCES|EPERM|SQLITE_PERM)$/, "permission denied"],
  [/^(EROFS|SQLITE_READONLY.*)$/, "the file system is read-only"],
  [/^(EIO|SQLITE_IOERR.*)$/, "the disk failed to read or write"],
  [/^(EMFILE|ENFILE)$/, "too many open files"],
  [/^ENOMEM$/, "out of memory"],
];

/** an OS or SQLite error code that names a problem of the machine, described; undefined otherwise */
function systemProblem(error: unknown): { errno: string; what: string } | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return undefined;
  const found = SYSTEM_PROBLEMS.find(([pattern]) => pattern.test(code));
  return found ? { errno: code, what: found[1] } : undefined;
}

function addFrame(error: BatchpipeError): BatchpipeError {
  const loc = error.loc!;
  try {
    const frame = codeFrame(readFileSync(loc.file, "utf8"), loc.line, loc.column);
    return Object.assign(Object.create(Object.getPrototypeOf(error)), error, {
      frame,
      message: error.message,
    });
  } catch {
    return error;
  }
}

function causes(error: Error): string {
  let out = "";
  if (error.stack) out += `\n\n${error.stack}`;
  let cause = error.cause;
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    out += `\n  [cause] ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return out;
}
